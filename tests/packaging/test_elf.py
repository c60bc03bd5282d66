"""pneumo_packaging.elf: dependencies and the glibc floor, from objdump's output."""

from __future__ import annotations

from pathlib import Path

import PySide6

from pneumo_packaging import elf
from tests.packaging.conftest import require_tool

OBJDUMP_P = """
Dynamic Section:
  NEEDED               libQt6Gui.so.6
  NEEDED               libc.so.6
  RUNPATH              $ORIGIN/../../lib

Version References:
  required from libQt6Core.so.6:
    0x08a29112 0x00 11 Qt_6.12
  required from libc.so.6:
    0x09691a75 0x00 08 GLIBC_2.2.5
    0x069691b4 0x00 09 GLIBC_2.34
    0x0d696917 0x00 10 GLIBC_2.17
  required from libstdc++.so.6:
    0x08922974 0x00 07 GLIBCXX_3.4
"""


def test_parse_needed_and_glibc_versions():
    assert elf.parse_needed(OBJDUMP_P) == ["libQt6Gui.so.6", "libc.so.6"]
    assert elf.parse_glibc_versions(OBJDUMP_P) == {"2.2.5", "2.34", "2.17"}
    assert elf.parse_glibc_versions("Dynamic Section:\n  NEEDED libc.so.6\n") == set()


def test_glibc_floor_compares_versions_as_numbers():
    assert elf.glibc_floor({"2.2.5", "2.34", "2.17", "2.9"}) == "2.34"
    assert elf.glibc_floor({"2.9", "2.10"}) == "2.10"
    assert elf.glibc_floor(set()) is None


def test_needed_libraries_of_a_real_qt_plugin():
    require_tool("objdump", "binutils")
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    assert elf.is_elf(plugin)
    needed = elf.needed_libraries(plugin)
    assert "libQt6XcbQpa.so.6" in needed and "libxcb-cursor.so.0" in needed
    assert not elf.is_elf(Path(PySide6.__file__))
