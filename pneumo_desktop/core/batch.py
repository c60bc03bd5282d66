"""A scan that survives a crash: results go to the store one by one, and a resumed scan runs
only the files that have no result yet.

The scan policies live here, for ``pneumo-scan`` and the app alike:

* :func:`run_scan` owns the end states. It finishes COMPLETE when every file has a result,
  CANCELLED when the user's ``cancel`` stopped it, and otherwise leaves it RUNNING (a consumer
  that stopped early, the app closing, a crash, an error), to be resumed.
* :class:`ScanProgress` carries this run's rate and ETA.
* :func:`find_unfinished_scan` finds the scan of a folder to resume; a scan that another
  live process is scanning (:mod:`.scan_lease`) is never resumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .results import ScanResult, ScanState, Status
from .scan import DEFAULT_BATCH_SIZE, list_images, scan_files
from .scan_lease import ScanLease, runner_text, running_elsewhere
from .store import ResultStore, ScanInfo, model_sha256

log = logging.getLogger(__name__)


class ResumeError(Exception):
    """The scan cannot be resumed (unknown, or made with another model)."""


@dataclass(frozen=True)
class ScanProgress:
    """One step of a scan: first a starting item (``result`` None), then one per file."""

    scan_id: int
    done: int  # files with a result, including those finished before a resume
    total: int
    result: ScanResult | None
    scanned: int = 0  # files scanned by this run (not those finished before a resume)
    elapsed: float = 0.0  # seconds since this run's starting item

    @property
    def rate(self) -> float | None:
        """Images per second in this run; None until a file has been scanned."""
        if self.scanned <= 0 or self.elapsed <= 0:
            return None
        return self.scanned / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds until every file has a result, at this run's rate; None without a rate."""
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate


def find_unfinished_scan(store: ResultStore, folder: Path) -> ScanInfo | None:
    """The newest scan of ``folder`` left RUNNING (killed, crashed or closed mid-way, or
    running elsewhere: resuming that one raises :class:`ResumeError`); None when there is
    none."""
    folder = str(Path(folder).resolve())
    return next((info for info in store.unfinished_scans() if info.folder == folder), None)


def run_scan(
    store: ResultStore,
    classifier,
    folder: Path | None = None,
    *,
    resume_scan_id: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cancel: threading.Event | None = None,
) -> Iterator[ScanProgress]:
    """Scan ``folder`` (new scan) or resume ``resume_scan_id``; every result is committed to
    ``store`` before it is yielded. The first item (``result=None``) tells the scan id and how
    much was already done.

    ``cancel`` is the user's Cancel: once it is set the scan stops between batches, or when
    the consumer closes this generator, and is recorded CANCELLED. A consumer that closes it
    without ``cancel`` set leaves the scan RUNNING, to be resumed like one that crashed.
    """
    if resume_scan_id is None:
        if folder is None:
            raise ValueError("give a folder to scan or a scan to resume")
        files = list_images(folder)
        scan_id = store.start_scan(folder, classifier.card, len(files),
                                   threshold=classifier.threshold)
    else:
        scan_id, files = _resumable(store, classifier, resume_scan_id)
    pending = store.pending_files(scan_id, files)
    done, total = len(files) - len(pending), len(files)
    if resume_scan_id is None:
        log.info("scan %d of %s started: %d images, batches of %d", scan_id, folder, total,
                 batch_size)
    else:
        log.info("scan %d resumed: %d of %d images already done, %d to scan", scan_id, done,
                 total, len(pending))
    started, counts, state = time.monotonic(), Counter(), ScanState.RUNNING
    user_cancelled = cancel.is_set if cancel is not None else lambda: False
    try:
        # Held while this process scans: no other one resumes the scan meanwhile.
        with ScanLease(store.path, scan_id):
            yield ScanProgress(scan_id, done, total, None)
            with closing(scan_files(pending, classifier, batch_size=batch_size,
                                    cancel=cancel)) as results:
                for result in results:
                    store.record(scan_id, result)
                    done += 1
                    counts[result.status] += 1
                    yield ScanProgress(scan_id, done, total, result, sum(counts.values()),
                                       time.monotonic() - started)
        state = ScanState.CANCELLED if user_cancelled() and done < total else ScanState.COMPLETE
    except GeneratorExit:  # the consumer stopped early
        if done >= total:
            state = ScanState.COMPLETE
        elif user_cancelled():
            state = ScanState.CANCELLED
        raise
    finally:
        if state is not ScanState.RUNNING:
            store.finish_scan(scan_id, state)
        _log_end(scan_id, state, done, total, counts, time.monotonic() - started)


def _resumable(store: ResultStore, classifier, scan_id: int) -> tuple[int, list[Path]]:
    """The files of ``scan_id`` to resume it with; ResumeError if it can't be resumed."""
    try:
        info = store.scan(scan_id)
    except KeyError:
        raise ResumeError(f"there is no scan {scan_id} to resume") from None
    if running_elsewhere(info):
        raise ResumeError(f"scan {scan_id} is {runner_text(info)}; it is not resumed here")
    if info.model_name and store.scan_model_sha256(scan_id) not in (
        None, model_sha256(classifier.card)
    ):
        raise ResumeError(
            f"scan {scan_id} was made with another model ({info.model_name} "
            f"{info.model_version}); start a new scan instead"
        )
    try:
        files = list_images(Path(info.folder))
    except NotADirectoryError:
        raise ResumeError(f"the folder of scan {scan_id} is gone: {info.folder}") from None
    store.set_total(scan_id, len(files))
    return scan_id, files


def _log_end(scan_id: int, state: ScanState, done: int, total: int, counts: Counter,
             seconds: float) -> None:
    scanned = sum(counts.values())
    rate = scanned / seconds if seconds > 0 else 0.0
    how = {
        ScanState.COMPLETE: str(ScanState.COMPLETE),
        ScanState.CANCELLED: f"{ScanState.CANCELLED} by the user",
        ScanState.RUNNING: f"stopped before the end, left {ScanState.RUNNING} to be resumed",
    }[state]
    log.info(
        "scan %d %s: %d of %d images; this run scanned %d in %.1f s (%.1f images/s): "
        "%d %s, %d %s, %d %s", scan_id, how, done, total, scanned, seconds, rate,
        counts[Status.OK], Status.OK, counts[Status.NOT_XRAY], Status.NOT_XRAY,
        counts[Status.ERROR], Status.ERROR,
    )
