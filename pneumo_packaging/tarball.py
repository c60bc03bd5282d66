"""The Linux ``.tar.gz``: the bundle folder as it is, for machines without dpkg.

    python3 -m pneumo_packaging tarball [--bundle dist/pneumo-desktop] [--out dist]

Unpacked anywhere it runs from there (``pneumo-desktop/pneumo-desktop``); ``pneumo-scan`` stays
a symbolic link, which tar keeps and zip would not.
"""

from __future__ import annotations

import platform
import tarfile
from pathlib import Path

from .project import APP_NAME, BuildError, project_version


def tarball_name(version: str, machine: str) -> str:
    return f"{APP_NAME}-{version}-linux-{machine.lower()}.tar.gz"


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Files owned by nobody in particular: whoever unpacks them owns them."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_tarball(bundle: Path, out_dir: Path) -> Path:
    if not (bundle / APP_NAME).is_file():
        raise BuildError(f"{bundle / APP_NAME} not found: build the bundle first")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / tarball_name(project_version(), platform.machine())
    partial = target.with_name(target.name + ".part")
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=APP_NAME, filter=_as_root)
    partial.replace(target)
    print(f"built {target}", flush=True)
    return target
