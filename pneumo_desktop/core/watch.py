"""Films that arrive on their own: watch a folder and hand over each new film once it is whole.

* **Stable before counted.** A film is handed over only when its size and modification time
  have not changed for ``settle_seconds`` (a copy from a USB stick or a network share may still
  be in progress). A film that changes later is handed over again; the scan's store, which
  knows each file by path, size and mtime, decides whether it needs a new verdict.
* **Ignored:** ``*.partial`` (the receiver's files being written), hidden files and folders
  (names starting with "."), and files the scanner would not read.
* **Observer:** the operating system's notifications (inotify, ReadDirectoryChangesW, FSEvents)
  where they work; the polling observer on network shares, where notifications from other
  machines do not arrive. Polling is an option, chosen by itself for a folder on a network
  file system, and whenever the native observer cannot start (e.g. Linux's inotify watch
  limit).
* **Events can be missed** (a share that drops, a burst that overflows the kernel's queue):
  the overnight scan, which lists the whole folder, remains the safety net.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from .files import PARTIAL_SUFFIX
from .imaging import is_image_file
from .results import ScanResult
from .scan import DEFAULT_BATCH_SIZE, scan_files

log = logging.getLogger(__name__)

DEFAULT_SETTLE_SECONDS = 2.0
DEFAULT_POLL_INTERVAL = 2.0
# Linux file systems whose changes may come from another machine, where inotify is blind.
_NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p",
     "fuse.sshfs", "davfs", "fuse.davfs2", "glusterfs", "ceph", "fuse.rclone"}
)


def is_film_candidate(path: Path, root: Path) -> bool:
    """What the watcher hands over: no ``.partial``, nothing hidden below ``root``, and a
    file the scanner reads (by suffix, or DICOM by content: an extensionless film)."""
    if path.name.endswith(PARTIAL_SUFFIX):
        return False
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return not any(part.startswith(".") for part in parts) and is_image_file(path)


def is_network_folder(folder: Path, mounts: Path = Path("/proc/mounts")) -> bool:
    """True when ``folder`` is on a network share (best effort: False when unsure). On Linux
    the longest mount point of ``mounts`` holding the folder gives its file system."""
    folder = Path(folder).resolve()
    if sys.platform == "win32":
        return _is_windows_network_path(folder)
    if not mounts.exists():  # macOS, BSD: polling stays an explicit option there
        return False
    best, best_type = "", ""
    for line in mounts.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = str(folder) == mount_point or str(folder).startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, best_type = mount_point, fields[2]
    return best_type in _NETWORK_FILE_SYSTEMS


def _is_windows_network_path(folder: Path) -> bool:
    text = str(folder)
    if text.startswith("\\\\"):  # \\server\share
        return True
    import ctypes

    drive_remote = 4
    return ctypes.windll.kernel32.GetDriveTypeW(folder.anchor) == drive_remote


class _Collector(FileSystemEventHandler):
    """Turns observer events into candidate paths (called on the observer's thread)."""

    def __init__(self, note: Callable[[Path], None], note_folder: Callable[[Path], None]):
        self._note, self._note_folder = note, note_folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("deleted", "opened", "closed_no_write"):
            return
        path = os.fsdecode(event.dest_path or event.src_path)
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self._note_folder(Path(path))  # a whole study folder moved or copied in
            return
        self._note(Path(path))


class FilmWatcher:
    """Watch ``folder`` (recursively) from :meth:`start` to :meth:`stop`; take the new films
    with :meth:`ready` or :meth:`films`.

    ``polling``: True forces the polling observer, False the native one, None (default)
    polls on a network share and uses the native observer elsewhere, falling back to polling
    when it cannot start.
    """

    def __init__(
        self,
        folder: Path,
        *,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        polling: bool | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        accept: Callable[[Path, Path], bool] = is_film_candidate,
    ):
        self.folder = Path(folder).resolve()
        self.settle_seconds = float(settle_seconds)
        self.poll_interval = float(poll_interval)
        self._polling_choice = polling
        self._accept = accept
        self._observer = None
        self.polling: bool | None = None  # what it actually uses, once started
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # path -> (size, mtime_ns) last seen, and when it last changed (monotonic seconds)
        self._candidates: dict[Path, tuple[tuple[int, int] | None, float]] = {}
        self._handed_over: dict[Path, tuple[int, int]] = {}

    # Life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        if not self.folder.is_dir():
            raise NotADirectoryError(f"folder not found: {self.folder}")
        polling = self._polling_choice
        if polling is None and is_network_folder(self.folder):
            log.info("%s is on a network share: polling it every %.1f s",
                     self.folder, self.poll_interval)
            polling = True
        if not polling:
            try:
                self._observer = self._start_observer(Observer())
                self.polling = False
            except OSError as error:
                if polling is False:
                    raise
                log.warning("file notifications for %s could not start (%s); polling every "
                            "%.1f s instead", self.folder, error, self.poll_interval)
        if self._observer is None:
            self._observer = self._start_observer(PollingObserver(timeout=self.poll_interval))
            self.polling = True
        log.info("watching %s for new films (%s observer, settle %.1f s)", self.folder,
                 "polling" if self.polling else "native", self.settle_seconds)

    def _start_observer(self, observer):
        handler = _Collector(self._note, self._note_folder)
        observer.schedule(handler, str(self.folder), recursive=True)
        observer.daemon = True
        observer.start()
        return observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> "FilmWatcher":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # Events ------------------------------------------------------------------------------
    def _note(self, path: Path) -> None:
        if not self._accept(path, self.folder):
            return
        with self._changed:
            self._candidates[path] = (None, time.monotonic())
            self._changed.notify_all()

    def _note_folder(self, folder: Path) -> None:
        for root, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                self._note(Path(root) / name)

    # Handing over ------------------------------------------------------------------------
    def ready(self, timeout: float = 0.0) -> list[Path]:
        """The films that have become stable, waiting up to ``timeout`` seconds for the first;
        each (path, size, mtime) is handed over once. Sorted by path."""
        deadline = time.monotonic() + max(0.0, timeout)
        tick = min(0.25, self.settle_seconds / 4) or 0.05
        while True:
            films = self._settled()
            remaining = deadline - time.monotonic()
            if films or remaining <= 0 or self._observer is None:
                return films
            with self._changed:
                self._changed.wait(min(tick, remaining))

    def films(self, stop: threading.Event | None = None) -> Iterator[Path]:
        """Each new film as it becomes stable, until ``stop`` is set or :meth:`stop` is
        called."""
        while self._observer is not None and not (stop is not None and stop.is_set()):
            yield from self.ready(timeout=0.5)

    @property
    def pending(self) -> int:
        """Films seen but not yet stable."""
        with self._lock:
            return len(self._candidates)

    def _settled(self) -> list[Path]:
        now = time.monotonic()
        with self._lock:
            candidates = list(self._candidates.items())
        settled, changes = [], {}
        for path, (seen, since) in candidates:
            try:
                stat = path.stat()
            except OSError:  # gone (moved on, deleted): nothing to hand over
                changes[path] = None
                continue
            identity = (stat.st_size, stat.st_mtime_ns)
            if identity != seen:
                changes[path] = (identity, now)
            elif now - since >= self.settle_seconds:
                changes[path] = None
                if self._handed_over.get(path) != identity:
                    self._handed_over[path] = identity
                    settled.append(path)
        with self._lock:
            for path, change in changes.items():
                current = self._candidates.get(path)
                if current is None or current[1] > now:  # a newer event arrived meanwhile
                    continue
                if change is None:
                    del self._candidates[path]
                else:
                    self._candidates[path] = change
        return sorted(settled)


def scan_arrivals(
    store,
    classifier,
    scan_id: int,
    watcher: FilmWatcher,
    *,
    stop: threading.Event,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[ScanResult]:
    """Scan each film ``watcher`` hands over into the open scan ``scan_id`` of ``store``,
    committing every result before it is yielded, until ``stop`` is set.

    A film the scan already holds with the same size and mtime (one that arrived while the
    folder was being listed, say) is not scanned twice. Start the watcher *before* listing
    the folder, so that nothing arriving in between is missed.
    """
    while not stop.is_set():
        films = watcher.ready(timeout=0.5)
        pending = store.pending_files(scan_id, films) if films else []
        if not pending:
            continue
        # The total grows with the arrivals (a changed film counts twice until its batch ends).
        store.set_total(scan_id, store.scan(scan_id).done_files + len(pending))
        for result in scan_files(pending, classifier, batch_size=batch_size):
            store.record(scan_id, result)
            yield result
        store.set_total(scan_id, store.scan(scan_id).done_files)
