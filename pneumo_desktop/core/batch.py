"""A scan that survives a crash: results go to the store one by one, and a resumed scan runs
only the files that have no result yet."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .results import ScanResult, ScanState, Status
from .scan import DEFAULT_BATCH_SIZE, list_images, scan_files
from .store import ResultStore, model_sha256

log = logging.getLogger(__name__)


class ResumeError(Exception):
    """The scan cannot be resumed (unknown, or made with another model)."""


@dataclass(frozen=True)
class ScanProgress:
    scan_id: int
    done: int  # files with a result, including those finished before a resume
    total: int
    result: ScanResult | None  # None for the first, "starting" item


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
    much was already done."""
    if resume_scan_id is None:
        if folder is None:
            raise ValueError("give a folder to scan or a scan to resume")
        files = list_images(folder)
        scan_id = store.start_scan(folder, classifier.card, len(files),
                                   threshold=classifier.threshold)
    else:
        try:
            info = store.scan(resume_scan_id)
        except KeyError:
            raise ResumeError(f"there is no scan {resume_scan_id} to resume") from None
        sha = model_sha256(classifier.card)
        if info.model_name and store.scan_model_sha256(resume_scan_id) not in (None, sha):
            raise ResumeError(
                f"scan {resume_scan_id} was made with another model ({info.model_name} "
                f"{info.model_version}); start a new scan instead"
            )
        scan_id = resume_scan_id
        try:
            files = list_images(Path(info.folder))
        except NotADirectoryError:
            raise ResumeError(f"the folder of scan {scan_id} is gone: {info.folder}") from None
        store.set_total(scan_id, len(files))
    pending = store.pending_files(scan_id, files)
    done = len(files) - len(pending)
    if resume_scan_id is None:
        log.info("scan %d of %s started: %d images, batches of %d", scan_id, folder,
                 len(files), batch_size)
    else:
        log.info("scan %d resumed: %d of %d images already done, %d to scan", scan_id, done,
                 len(files), len(pending))
    started, counts = time.monotonic(), Counter()
    # A consumer that stops early (closes this generator) leaves the scan 'running', to be
    # resumed like one that crashed; the caller decides whether that was the user's Cancel.
    finished = False
    try:
        yield ScanProgress(scan_id, done, len(files), None)
        for result in scan_files(pending, classifier, batch_size=batch_size, cancel=cancel):
            store.record(scan_id, result)
            done += 1
            counts[result.status] += 1
            yield ScanProgress(scan_id, done, len(files), result)
        cancelled = cancel is not None and cancel.is_set() and done < len(files)
        state = ScanState.CANCELLED if cancelled else ScanState.COMPLETE
        store.finish_scan(scan_id, state)
        finished = True
    finally:
        _log_end(scan_id, state if finished else ScanState.RUNNING, done, len(files), counts,
                 time.monotonic() - started)


def _log_end(scan_id: int, state: ScanState, done: int, total: int, counts: Counter,
             seconds: float) -> None:
    scanned = sum(counts.values())
    rate = scanned / seconds if seconds > 0 else 0.0
    how = {ScanState.COMPLETE: "complete", ScanState.CANCELLED: "cancelled by the user",
           ScanState.RUNNING: "stopped, left running to be resumed"}[state]
    log.info(
        "scan %d %s: %d of %d images; this run scanned %d in %.1f s (%.1f images/s): "
        "%d %s, %d %s, %d %s", scan_id, how, done, total, scanned, seconds, rate,
        counts[Status.OK], Status.OK, counts[Status.NOT_XRAY], Status.NOT_XRAY,
        counts[Status.ERROR], Status.ERROR,
    )
