"""Qt's ICU data, cut down to what an English app reads (Linux bundle: 30 MB → ~4 MB).

PySide6's wheel carries ICU 73 for Qt Core (``libicudata.so.73``: one 30 MB table of every
locale's collation, calendar, currency, unit and time-zone names, plus character-set tables and
word-break dictionaries). Qt calls ICU for collation (``QCollator``: the file dialog sorts
with it), case mapping, time-zone display names and the character sets other than UTF and
Latin-1. The app is English and reads its files with Python, so the bundle keeps:

* every table that is not about one locale (likely subtags, supplemental and plural data, time
  zones, normalisation, Unicode names, character-set aliases, root collation), and
* the root and English locales of each locale tree (main, collation, currency, language,
  region, unit, zone names) with the trees' indexes and shared string pools.

Left out: other locales (ICU falls back to root: a Swedish file dialog sorts Å with A),
character-set conversion tables (Qt still has UTF-8/16/32, Latin-1 and ASCII), break-iterator
rules and dictionaries, transliteration and spelled-out-number rules, which Qt does not call.

The data is an ICU *common data* package (format ``CmnD``) exported as the symbol
``icudt<version>_dat``. The package is rewritten here in Python and linked back into a library
of the same name with binutils' ``as`` and ``ld`` (already needed to strip): no ICU tools.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .elf import exported_symbol
from .project import cache_key

ICU_DATA_LIBRARY = re.compile(r"^libicudata\.so\.(\d+)$")
# Locales kept in every tree: root (the fallback of every other) and English.
KEPT_LOCALES = frozenset({"root", "en", "en_001", "en_GB", "en_US"})
# Files of a locale tree that are not a locale: its index and its shared string pool.
TREE_FILES = frozenset({"res_index", "pool"})
# Whole trees Qt never reads (break iterators, transliterators, rule-based number formats).
DROPPED_TREES = frozenset({"brkitr", "translit", "rbnf"})
ALIGNMENT = 16  # ICU aligns each item of a package on 16 bytes


@dataclass(frozen=True)
class Package:
    """An ICU common data package: its header, and its items by name (in TOC order)."""

    header: bytes
    items: dict[str, bytes]


def read_package(data: bytes) -> Package:
    """Parse a ``CmnD`` package (little-endian, as on x86-64)."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", data, 0)
    if (magic1, magic2) != (0xDA, 0x27) or data[12:16] != b"CmnD":
        raise ValueError("not an ICU common data package")
    toc = data[header_size:]
    (count,) = struct.unpack_from("<I", toc, 0)
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items = {}
    for i, (name_at, data_at) in enumerate(entries):
        name = toc[name_at : toc.index(b"\0", name_at)].decode("ascii")
        end = entries[i + 1][1] if i + 1 < count else len(toc)
        items[name] = toc[data_at:end]
    return Package(data[:header_size], items)


def write_package(package: Package) -> bytes:
    """The package as bytes: header, TOC (names in the order given, which must stay sorted:
    ICU looks items up by binary search), then the items, each on a 16-byte boundary."""
    names = list(package.items)
    table_size = 4 + 8 * len(names)
    name_blob, name_offsets = bytearray(), []
    for name in names:
        name_offsets.append(table_size + len(name_blob))
        name_blob += name.encode("ascii") + b"\0"
    body = bytearray(_pad(bytes(name_blob), table_size))
    data_offsets = []
    for name in names:
        data_offsets.append(table_size + len(body))
        body += _pad(package.items[name], 0)
    toc = struct.pack("<I", len(names)) + b"".join(
        struct.pack("<II", n, d) for n, d in zip(name_offsets, data_offsets, strict=True)
    )
    return package.header + toc + bytes(body)


def _pad(block: bytes, offset: int) -> bytes:
    return block + b"\0" * (-(offset + len(block)) % ALIGNMENT)


def keep_item(name: str) -> bool:
    """Whether an item (``icudt73l/coll/de.res``) stays: see the module's docstring."""
    parts = PurePosixPath(name).parts[1:]  # without the package's own folder
    if not parts:
        return False
    stem, _, suffix = parts[-1].rpartition(".")
    if len(parts) > 1:  # in a tree: coll/, curr/, lang/, region/, unit/, zone/, brkitr/, …
        if parts[0] in DROPPED_TREES:
            return False
        return suffix != "res" or stem in KEPT_LOCALES | TREE_FILES
    if suffix == "cnv":
        return False  # character-set conversion tables (cnvalias.icu, the aliases, stays)
    return suffix != "res" or not _is_locale(stem) or stem in KEPT_LOCALES | TREE_FILES


def _is_locale(stem: str) -> bool:
    """``de``, ``de_CH``, ``sr_Latn_BA``, ``ars``: a language code (2–3 lower-case letters)
    and subtags; not ``supplementalData`` or ``zoneinfo64``."""
    return re.fullmatch(r"[a-z]{2,3}(_[A-Za-z0-9]+)*", stem) is not None and stem != "root"


def trimmed(package: Package) -> Package:
    return Package(package.header, {n: b for n, b in package.items.items() if keep_item(n)})


def trim_library(
    source: Path, out_dir: Path, tools: dict[str, str] | None = None, name: str | None = None
) -> Path:
    """A copy of ICU's data library ``name`` (``libicudata.so.N``; default: the source's own
    name, which a stripped copy in a cache does not have) holding the trimmed package, linked
    with binutils (cached in ``out_dir`` by source path, size and time)."""
    tools = tools or {"as": "as", "ld": "ld"}
    name = name or source.name
    match = ICU_DATA_LIBRARY.match(name)
    if not match:
        raise ValueError(f"{name} is not an ICU data library")
    work = out_dir / cache_key(source.resolve())
    library = work / name
    if library.exists():
        return library
    work.mkdir(parents=True, exist_ok=True)
    symbol = f"icudt{match.group(1)}_dat"
    (work / "icudata.dat").write_bytes(
        write_package(trimmed(read_package(exported_symbol(source, symbol))))
    )
    (work / "icudata.s").write_text(
        "\t.section .note.GNU-stack,\"\",%progbits\n"
        "\t.section .rodata\n\t.balign 16\n"
        f"\t.globl {symbol}\n\t.type {symbol},%object\n{symbol}:\n"
        '\t.incbin "icudata.dat"\n'
        f"\t.size {symbol}, .-{symbol}\n",
        encoding="ascii",
    )
    subprocess.run([tools["as"], "-o", "icudata.o", "icudata.s"], cwd=work, check=True)
    partial = library.with_name(library.name + ".tmp")
    subprocess.run(
        [tools["ld"], "-shared", "-soname", name, "-z", "noexecstack", "-o",
         partial.name, "icudata.o"],
        cwd=work,
        check=True,
    )  # fmt: skip
    os.replace(partial, library)
    return library


def trim_binaries(
    binaries: list[tuple[str, str, str]], cache: Path, tools: dict[str, str] | None = None
) -> tuple[list[tuple[str, str, str]], int]:
    """PyInstaller's binaries with each ICU data library replaced by its trimmed copy; and the
    bytes saved."""
    result, saved = [], 0
    for dest, src, kind in binaries:
        name = PurePosixPath(dest).name
        if ICU_DATA_LIBRARY.match(name) and kind == "BINARY":
            trimmed_library = trim_library(Path(src), cache, tools, name)
            saved += os.path.getsize(src) - trimmed_library.stat().st_size
            src = str(trimmed_library)
        result.append((dest, src, kind))
    return result, saved
