"""The Windows installer: ``windows/pneumo-desktop.nsi`` compiled with NSIS's ``makensis``.

    python -m pneumo_packaging nsis [--bundle dist/pneumo-desktop] [--out dist]

On Windows after building the bundle there (PyInstaller does not cross-build), with NSIS 3
installed; on Linux, Debian's ``nsis`` package compiles the same script (CI does, against a
stand-in folder, to prove it). The script installs exactly the files listed here and its
uninstaller deletes exactly those, then the folders they were in if they are empty.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PureWindowsPath

from .project import (
    APP_NAME,
    DISPLAY_NAME,
    ICON_ICO,
    BuildError,
    numeric_version,
    project_version,
)

SCRIPT = Path(__file__).resolve().parent / "windows" / f"{APP_NAME}.nsi"


def nsis_literal(text: str) -> str:
    """``text`` for a double-quoted NSIS run-time string, taken literally."""
    return text.replace("$", "$$").replace('"', '$\\"')


def source_path(path: Path) -> str:
    """A file to pack, quoted for ``File``: read as written at compile time, with no escapes,
    so the characters that would need one are refused (Windows forbids ``"`` in names)."""
    text = str(path)
    if '"' in text or "${" in text:
        raise BuildError(f"{text}: a file name with '\"' or '${{' cannot be packed by NSIS")
    return f'"{text}"'


def _install_path(relative: Path) -> str:
    """The quoted install path of a bundle path: ``"$INSTDIR\\_internal\\…"``."""
    return '"' + str(PureWindowsPath("$INSTDIR", *map(nsis_literal, relative.parts))) + '"'


def bundle_files(bundle: Path) -> list[Path]:
    """Every file of the bundle, relative to it; a bundle for Windows has no links."""
    links = [p for p in bundle.rglob("*") if p.is_symlink()]
    if links:
        raise BuildError(f"{links[0]}: symbolic links are not for a Windows installer")
    return sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file())


def file_lists(bundle: Path) -> tuple[str, str]:
    """The install list (``SetOutPath`` per folder, ``File`` per file) and the uninstall list
    (``Delete`` per file, then ``RMDir`` per folder, deepest first: each only if empty)."""
    files = bundle_files(bundle)
    install, folder = [], None
    for relative in files:
        if relative.parent != folder:
            folder = relative.parent
            install.append(f"SetOutPath {_install_path(folder)}")
        install.append(f"File {source_path(bundle / relative)}")
    folders = {parent for relative in files for parent in relative.parents if parent != Path(".")}
    uninstall = [f"Delete {_install_path(relative)}" for relative in files]
    uninstall += [
        f"RMDir {_install_path(path)}"
        for path in sorted(folders, key=lambda p: (-len(p.parts), str(p)))
    ]
    return "\n".join(install) + "\n", "\n".join(uninstall) + "\n"


def installer_name(version: str) -> str:
    return f"{APP_NAME}-{version}-setup.exe"


def build_installer(bundle: Path, out_dir: Path, makensis: str = "makensis") -> Path:
    if not (bundle / f"{APP_NAME}.exe").is_file():
        raise BuildError(f"{bundle / (APP_NAME + '.exe')} not found: build the bundle on Windows")
    tool = shutil.which(makensis)
    if tool is None:
        raise BuildError(
            f"{makensis} not found: install NSIS 3 (Windows: nsis.sourceforge.io; Debian: "
            "sudo apt-get install nsis)"
        )
    version = project_version()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = (out_dir / installer_name(version)).resolve()
    install, uninstall = file_lists(bundle.resolve())
    lists = out_dir / "nsis"
    lists.mkdir(exist_ok=True)
    (lists / "install_files.nsh").write_text(install, encoding="utf-8")
    (lists / "uninstall_files.nsh").write_text(uninstall, encoding="utf-8")
    size_kb = sum((bundle / p).stat().st_size for p in bundle_files(bundle)) // 1024
    defines = {
        "APP_NAME": APP_NAME,
        "DISPLAY_NAME": DISPLAY_NAME,
        "VERSION": version,
        "VERSION4": numeric_version(version),
        "ICON": str(ICON_ICO),
        "OUT_FILE": str(target),
        "INSTALL_LIST": str((lists / "install_files.nsh").resolve()),
        "UNINSTALL_LIST": str((lists / "uninstall_files.nsh").resolve()),
        "SIZE_KB": str(size_kb),
    }
    command = [tool, "-V2", "-WX", "-INPUTCHARSET", "UTF8"]  # warnings are errors
    command += [f"-D{name}={value}" for name, value in defines.items()] + [str(SCRIPT)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"makensis failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    print(f"built {target}", flush=True)
    return target
