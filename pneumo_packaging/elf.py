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


def _objdump(option: str, path: Path | str) -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump not found: install binutils (sudo apt-get install binutils)")
    return subprocess.run([objdump, option, str(path)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def parse_dynamic_symbol(symbols: str, name: str) -> tuple[int, int]:
    """(address, size) of a defined symbol in ``objdump -T`` output."""
    for line in symbols.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[-1] == name and "*UND*" not in fields:
            return int(fields[0], 16), int(fields[-2], 16)
    raise BuildError(f"no symbol {name} defined")


def parse_file_offset(sections: str, address: int) -> int:
    """The file offset of a virtual address, from ``objdump -h`` output (its sections' size,
    VMA and file offset)."""
    for line in sections.splitlines():
        fields = line.split()
        if len(fields) >= 7 and fields[0].isdigit():
            size, vma, offset = int(fields[2], 16), int(fields[3], 16), int(fields[5], 16)
            if vma <= address < vma + size:
                return offset + address - vma
    raise BuildError(f"address {address:#x} is in no section")


def exported_symbol(path: Path, name: str) -> bytes:
    """The bytes of a data symbol a shared library exports (e.g. ICU's ``icudt73_dat``)."""
    address, size = parse_dynamic_symbol(_objdump("-T", path), name)
    offset = parse_file_offset(_objdump("-h", path), address)
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)
