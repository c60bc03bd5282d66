"""What a Linux binary links and which glibc it needs, read with ``objdump -p`` (binutils)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .project import BuildError

ELF_MAGIC = b"\x7fELF"
_NEEDED = re.compile(r"^\s*NEEDED\s+(\S+)\s*$", re.MULTILINE)
_GLIBC = re.compile(r"\bGLIBC_(\d+(?:\.\d+)+)\b")


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == ELF_MAGIC


def objdump_private_headers(path: Path | str) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump not found: install binutils (sudo apt-get install binutils)")
    done = subprocess.run([objdump, "-p", str(path)], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def parse_needed(headers: str) -> list[str]:
    """The ``NEEDED`` entries (direct dependencies, in order) of ``objdump -p`` output."""
    return _NEEDED.findall(headers)


def parse_glibc_versions(headers: str) -> set[str]:
    """The ``GLIBC_x.y`` symbol versions an ``objdump -p`` output requires."""
    required = headers.split("Version References:", 1)
    return set(_GLIBC.findall(required[1])) if len(required) == 2 else set()


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def glibc_floor(versions: Iterable[str]) -> str | None:
    """The newest of the required glibc versions: the oldest glibc that can run them all."""
    return max(versions, key=version_key, default=None)


def needed_libraries(path: Path | str) -> list[str]:
    return parse_needed(objdump_private_headers(path))


def bundle_glibc_floor(folder: Path) -> str | None:
    """The glibc a folder's binaries need, all of them together."""
    versions: set[str] = set()
    for path in folder.rglob("*"):
        if is_elf(path):
            versions |= parse_glibc_versions(objdump_private_headers(path))
    return glibc_floor(versions)
