"""Qt's ICU data cut to the English locales (pneumo_packaging/icu.py): which items stay, the
package format written back, and Qt running on the trimmed library."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from pneumo_packaging import elf, icu

HEADER = struct.pack("<HBB", 32, 0xDA, 0x27) + struct.pack("<HHBBBB", 20, 0, 0, 0, 2, 0) \
    + b"CmnD" + bytes(16)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("icudt73l/coll/root.res", True),
        ("icudt73l/coll/ucadata.icu", True),
        ("icudt73l/coll/en_US.res", True),
        ("icudt73l/coll/sv.res", False),
        ("icudt73l/zone/pool.res", True),
        ("icudt73l/zone/res_index.res", True),
        ("icudt73l/zone/de_CH.res", False),
        ("icudt73l/curr/en_GB.res", True),
        ("icudt73l/brkitr/cjdict.dict", False),
        ("icudt73l/brkitr/root.res", False),
        ("icudt73l/translit/root.res", False),
        ("icudt73l/ibm-1390_P110-2003.cnv", False),
        ("icudt73l/cnvalias.icu", True),
        ("icudt73l/en.res", True),
        ("icudt73l/root.res", True),
        ("icudt73l/ars.res", False),
        ("icudt73l/sr_Latn_BA.res", False),
        ("icudt73l/supplementalData.res", True),
        ("icudt73l/zoneinfo64.res", True),
        ("icudt73l/likelySubtags.res", True),
        ("icudt73l/uts46.nrm", True),
    ],
)
def test_kept_items(name, kept):
    assert icu.keep_item(name) is kept


def test_a_package_is_written_back_as_icu_reads_it():
    items = {"icudt73l/a.res": b"x" * 5, "icudt73l/coll/de.res": b"y" * 40,
             "icudt73l/coll/root.res": b"z" * 16}  # fmt: skip
    data = icu.write_package(icu.Package(HEADER, items))
    (count,) = struct.unpack_from("<I", data, len(HEADER))
    assert count == 3
    offsets = [struct.unpack_from("<II", data, len(HEADER) + 4 + 8 * i)[1] for i in range(3)]
    assert all(offset % icu.ALIGNMENT == 0 for offset in offsets)  # ICU reads items aligned
    back = icu.read_package(data)
    assert back.header == HEADER and list(back.items) == list(items)
    assert [block.rstrip(b"\0") for block in back.items.values()] == list(items.values())
    trimmed = icu.trimmed(back)
    assert list(trimmed.items) == ["icudt73l/a.res", "icudt73l/coll/root.res"]


def test_not_a_package_is_refused():
    with pytest.raises(ValueError, match="not an ICU common data package"):
        icu.read_package(bytes(64))


OBJDUMP_T = """
libicudata.so.73:     file format elf64-x86-64

DYNAMIC SYMBOL TABLE:
0000000000000000      DO *UND*	0000000000000000              icudt72_dat
0000000000001000 g    DO .rodata	0000000001e8bb80 icudt73_dat
"""
OBJDUMP_H = """
Idx Name          Size      VMA               LMA               File off  Algn
  0 .note.gnu.build-id 00000024  0000000000000190  0000000000000190  00000190  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  5 .rodata       01e8bb80  0000000000001000  0000000000001000  00002000  2**4
"""


def test_a_symbol_is_found_in_the_file():
    assert elf.parse_dynamic_symbol(OBJDUMP_T, "icudt73_dat") == (0x1000, 0x1E8BB80)
    assert elf.parse_file_offset(OBJDUMP_H, 0x1010) == 0x2010
    with pytest.raises(elf.BuildError):
        elf.parse_dynamic_symbol(OBJDUMP_T, "icudt72_dat")  # only referenced, not defined


QT_CHECK = """
import functools
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone
words = ["zoo", "Zebra", "file10", "file2", "apple", "Äpfel"]
collator = QCollator(QLocale("en_US"))
collator.setNumericMode(True)
print(sorted(words, key=functools.cmp_to_key(collator.compare)))
print(QLocale("tr_TR").toUpper("i"), QStringDecoder("UTF-8").isValid())
zone = QTimeZone(b"Europe/Berlin")
print(zone.displayName(QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("en_US")))
"""  # noqa: E501


def _wheel_icu_data() -> Path | None:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    return found[0] if found else None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PySide6's ICU on Linux")
def test_qt_runs_on_the_trimmed_data_as_on_the_full(tmp_path):
    source = _wheel_icu_data()
    if source is None or not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("no ICU in PySide6's wheel, or no binutils")
    library = icu.trim_library(source, tmp_path)
    assert library.stat().st_size < source.stat().st_size / 5
    assert icu.trim_library(source, tmp_path) == library  # cached

    def run(preload: Path | None) -> str:
        env = {**os.environ, **({"LD_PRELOAD": str(preload)} if preload else {})}
        done = subprocess.run([sys.executable, "-c", QT_CHECK], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    trimmed = run(library)
    assert trimmed == run(None)
    assert "['Äpfel', 'apple', 'file2', 'file10', 'Zebra', 'zoo']" in trimmed
    assert "İ True" in trimmed and "Central European Standard Time" in trimmed


def test_binaries_get_the_trimmed_library_under_its_own_name(tmp_path, monkeypatch):
    """The source may be a stripped copy in a cache (``<hash>-libicudata.so.73``): the library
    is named, and its soname taken, from the bundle's destination."""
    cached = tmp_path / "b0879529e37a372f-libicudata.so.73"
    cached.write_bytes(b"y" * 100)
    with pytest.raises(ValueError, match="not an ICU data library"):
        icu.trim_library(cached, tmp_path)  # no name given: the cache's name says nothing
    made = []

    def fake_trim(source, cache, tools, name):
        made.append((source, name))
        out = tmp_path / name
        out.write_bytes(b"x" * 10)
        return out

    monkeypatch.setattr(icu, "trim_library", fake_trim)
    other = ("PySide6/Qt/lib/libicuuc.so.73", str(cached), "BINARY")
    binaries = [("PySide6/Qt/lib/libicudata.so.73", str(cached), "BINARY"), other]
    result, saved = icu.trim_binaries(binaries, tmp_path / "cache")
    assert result == [("PySide6/Qt/lib/libicudata.so.73", str(tmp_path / "libicudata.so.73"),
                       "BINARY"), other]  # fmt: skip
    assert made == [(cached, "libicudata.so.73")] and saved == 90
