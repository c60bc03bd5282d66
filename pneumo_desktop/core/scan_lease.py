"""Which process is scanning a scan now, so that no other one resumes it at the same time.

``pneumo-scan`` at night and the app in the morning share one store. A scan left RUNNING is
normally one that was stopped (a crash, a closed window) and waits to be resumed; but it may
also be one that another process is scanning right now. The scanning process holds a *lease*:
its process id, its machine and a heartbeat renewed every :data:`HEARTBEAT_SECONDS` by a
thread of its own, with its own SQLite connection (so a long batch, or a ``--watch`` waiting
for films, keeps it fresh). Another process sees the scan as *running elsewhere*, never to be
resumed, while

* the heartbeat is younger than :data:`STALE_AFTER_SECONDS` (a process that died stops
  beating; this also covers a store on another machine's disk), and
* on the same machine, that process id is alive (a crash is seen at once, not a minute later).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sys
import threading
from pathlib import Path

from .store import ResultStore, ScanInfo

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def running_elsewhere(info: ScanInfo, *, now: dt.datetime | None = None) -> bool:
    """Whether another live process holds ``info``'s scan (see the module doc)."""
    runner = info.runner
    if runner is None:
        return False
    here = this_host()
    if runner.pid == os.getpid() and runner.host == here:
        return False
    now = now or dt.datetime.now(dt.UTC)
    if (now - runner.heartbeat).total_seconds() > STALE_AFTER_SECONDS:
        return False
    return runner.host != here or pid_alive(runner.pid)


def runner_text(info: ScanInfo) -> str:
    """``running elsewhere (process 4242 on ward-pc)``, for messages and titles."""
    runner = info.runner
    where = f"process {runner.pid} on {runner.host}" if runner else "another process"
    return f"running elsewhere ({where})"


class ScanLease:
    """``with ScanLease(store_path, scan_id):`` holds the scan for this process, renewing the
    heartbeat on a daemon thread until the block ends (then the scan is released)."""

    def __init__(self, store_path: Path | str, scan_id: int, *,
                 interval: float = HEARTBEAT_SECONDS) -> None:
        self._path, self.scan_id, self._interval = store_path, scan_id, interval
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ScanLease:
        if str(self._path) == ":memory:":  # a private store: no other process can see it
            return self
        self._thread = threading.Thread(target=self._beat, name=f"scan-{self.scan_id}-lease",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(30)  # held before the scan's first result is committed
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(30)

    def _beat(self) -> None:
        pid, host = os.getpid(), this_host()
        try:
            with ResultStore(self._path) as store:
                store.hold_scan(self.scan_id, pid, host)
                self._ready.set()
                while not self._stop.wait(self._interval):
                    store.hold_scan(self.scan_id, pid, host)
                store.hold_scan(self.scan_id, None)
        except Exception:  # the scan goes on; another process may then see it as stopped
            log.exception("the lease of scan %d could not be kept", self.scan_id)
        finally:
            self._ready.set()
