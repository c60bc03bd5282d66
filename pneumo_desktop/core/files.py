"""Files that appear complete or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PARTIAL_SUFFIX = ".partial"

#: A file's (size, mtime_ns), or (None, None) when it cannot be read: how a scan tells a file it
#: has already seen from one that changed since.
FileIdentity = tuple[int | None, int | None]


def file_identity(path: str | os.PathLike[str]) -> FileIdentity:
    try:
        stat = os.stat(path)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime_ns


def write_bytes_atomically(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``<stem>.<random><suffix>.partial``, fsync it, then rename it to
    ``target``.

    A reader (the folder watcher, a scan) that ignores ``*.partial`` never sees a half-written
    file, and a crash at any moment leaves either the old ``target`` or the new one, plus at
    most a stray ``.partial``. Each writer has its own ``.partial`` (the random part): two
    writing the same target at once (a film sent twice) do not truncate each other's, and
    the last rename wins with a whole file. Returns ``target``.
    """
    target = Path(target)
    partial = target.with_name(
        f"{target.stem}.{secrets.token_hex(4)}{target.suffix}{PARTIAL_SUFFIX}")
    try:
        with open(partial, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    _fsync_directory(target.parent)
    return target


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
