"""One batch scan at a time, run on a worker thread, reported by signals on the GUI thread.

:class:`ScanController` owns the run: its :class:`GeneratorWorker`, the user's Cancel, and
shutting it down when the window closes. The scan itself is
:func:`~pneumo_desktop.core.batch.run_scan`, which owns the end states, the rate and the ETA;
its batches reach the model through the inference thread (``InferenceService.client``), so the
viewer's film is classified between two of them. The worker opens its own
:class:`ResultStore` (an SQLite connection belongs to the thread that made it), and every
result is committed before it is announced. The controller knows nothing of the widgets that
show the scan.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from pneumo_desktop.core.batch import ScanProgress, run_scan
from pneumo_desktop.core.inference import Priority, SerialClassifier
from pneumo_desktop.core.results import ScanState
from pneumo_desktop.core.scan import DEFAULT_BATCH_SIZE
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.workers import GeneratorWorker


class _RunState:
    """What the GUI and the worker thread share about one run; each field has one writer."""

    def __init__(self) -> None:
        self.scan_id: int | None = None  # written by the worker at the first item
        self.end_state: ScanState | None = None  # written by the worker once the scan ended
        self.user_cancel = threading.Event()  # set by the GUI before it aborts the worker


def _scan_in_worker(worker_abort: threading.Event, *, db_path: Path,
                    classifier: SerialClassifier, folder: Path | None,
                    resume_scan_id: int | None, batch_size: int,
                    state: _RunState) -> Iterator[ScanProgress]:
    """Runs on the worker thread, so its store (SQLite connection) is created here.

    run_scan decides the end state: the user's Cancel (``state.user_cancel``) ends the scan
    CANCELLED; an abort without it (the app closing) leaves it RUNNING, so the next start
    offers to resume it. The worker's own abort event only stops the loop (the worker closes
    this generator at the next item)."""
    store = ResultStore(db_path)
    try:
        with closing(run_scan(store, classifier, folder, resume_scan_id=resume_scan_id,
                              batch_size=batch_size, cancel=state.user_cancel)) as items:
            for item in items:
                state.scan_id = item.scan_id
                yield item
    except GeneratorExit:  # the worker stopped early; closing() has ended run_scan
        _read_end_state(store, state)
        raise
    else:
        _read_end_state(store, state)
    finally:
        store.close()


def _read_end_state(store: ResultStore, state: _RunState) -> None:
    """The end state run_scan stored (it has returned or been closed)."""
    if state.scan_id is not None:
        state.end_state = store.scan(state.scan_id).state


class _ScanRun(QObject):
    """One run. It lives on the GUI thread, so the worker's signals reach it queued, and it
    tags them with itself: the controller ignores a late signal of a run it has let go."""

    def __init__(self, controller: ScanController, **scan_arguments) -> None:
        super().__init__()  # no Qt parent: dropped by the controller on the GUI thread
        self.controller, self.state, self.error = controller, _RunState(), None
        # The generator holds only the plain state, not this QObject: no reference cycle, so
        # nothing Qt is ever freed by a garbage collection on the worker thread.
        self.worker = GeneratorWorker(partial(_scan_in_worker, state=self.state, **scan_arguments))
        self.worker.signals.yielded.connect(self._on_yielded)
        self.worker.signals.errored.connect(self._on_errored)
        self.worker.signals.finished.connect(self._on_finished)

    @property
    def scan_id(self) -> int:
        return -1 if self.state.scan_id is None else self.state.scan_id

    @Slot(object)
    def _on_yielded(self, item: ScanProgress) -> None:
        self.controller.run_progressed(self, item)

    @Slot(object)
    def _on_errored(self, error: BaseException) -> None:
        self.error = error

    @Slot()
    def _on_finished(self) -> None:
        self.controller.run_finished(self)


class ScanController(QObject):
    """Starts, cancels and shuts down scans; see the module docstring.

    Signals, all on the GUI thread, for the run in progress:

    * ``started(ScanProgress)``: the first item, with the scan id, the files already done (when
      resuming) and the total;
    * ``progressed(ScanProgress)``: one per file, its result already committed;
    * ``finished(scan id, ScanState)``: the run ended COMPLETE or CANCELLED (also when
      :meth:`shutdown` stopped it: then it stays resumable);
    * ``failed(scan id, exception)``: the run stopped with an error (scan id -1 when it
      stopped before the scan began, e.g. a missing folder).
    """

    started = Signal(object)
    progressed = Signal(object)
    finished = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, inference: InferenceService, db_path: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path = inference, Path(db_path)
        self._run: _ScanRun | None = None

    @property
    def is_running(self) -> bool:
        return self._run is not None

    @property
    def worker(self) -> GeneratorWorker | None:
        """The running scan's worker (None when no scan runs)."""
        return self._run.worker if self._run else None

    def problem(self) -> str | None:
        """Why a scan cannot start now, or None."""
        if not self._inference.is_ready:
            return "The model is still loading."
        return "A scan is already running." if self.is_running else None

    def start(self, folder: Path | None = None, *, resume_scan_id: int | None = None,
              batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        """Scan ``folder``, or resume ``resume_scan_id``; RuntimeError if :meth:`problem`."""
        problem = self.problem()
        if problem:
            raise RuntimeError(problem)
        self._run = _ScanRun(self, db_path=self._db_path,
                             classifier=self._inference.client(Priority.BACKGROUND),
                             folder=folder, resume_scan_id=resume_scan_id, batch_size=batch_size)
        self._run.worker.start()

    def cancel(self) -> None:
        """The user's Cancel: the scan stops after the current batch and is CANCELLED."""
        if self._run is not None:
            self._run.state.user_cancel.set()  # before abort: run_scan reads it on close
            self._run.worker.abort()

    def shutdown(self, timeout: float = 60.0) -> bool:
        """Stop a running scan and wait for its thread (the window closing); the scan stays
        resumable and nothing more arrives from it. False if it did not stop in time."""
        run, self._run = self._run, None
        if run is None:
            return True
        run.worker.abort()
        stopped = run.worker.join(timeout)
        self.finished.emit(run.scan_id, ScanState.CANCELLED)
        return stopped

    # Called by the current run's _ScanRun, on the GUI thread.
    def run_progressed(self, run: _ScanRun, item: ScanProgress) -> None:
        if run is self._run:
            (self.started if item.result is None else self.progressed).emit(item)

    def run_finished(self, run: _ScanRun) -> None:
        if run is not self._run:
            return  # a run that shutdown() let go
        self._run = None
        if run.error is not None:
            self.failed.emit(run.scan_id, run.error)
            return
        ended = run.state.end_state
        self.finished.emit(run.scan_id, ScanState.COMPLETE if ended is ScanState.COMPLETE
                           else ScanState.CANCELLED)
