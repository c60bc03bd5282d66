"""One batch scan at a time, run on a worker thread, reported by signals on the GUI thread.

:class:`ScanController` owns the run: its :class:`GeneratorWorker`, the user's Cancel, and
shutting it down when the window closes. The scan itself is
:func:`~pneumo_desktop.core.batch.run_scan`, which owns the end states, the rate and the ETA;
its batches reach the model through the inference thread (``InferenceService.client``), so the
viewer's film is classified between two of them. The worker opens its own
:class:`ResultStore` (an SQLite connection belongs to the thread that made it), and every
result is committed before it is announced. The controller knows nothing of the widgets that
show the scan.

**Watching** (:meth:`ScanController.set_watch`): a run, once its folder is scanned, keeps
watching the folder (:class:`~pneumo_desktop.core.watch.FilmWatcher`) and scans each new film
into the same scan as it arrives (:func:`~pneumo_desktop.core.watch.scan_arrivals`); each one
is announced by ``progressed`` like any other, so the worklist shows it live. A run started
with watching on starts its watcher before it lists the folder, so nothing slips in between;
switched on during a run, the watcher starts when the folder is done and a second pass
(a resume) picks up what arrived meanwhile. Switching it off, Cancel or closing ends the run
(the scan stays COMPLETE). Events can be missed: the overnight scan remains the safety net.
"""

from __future__ import annotations

import threading
import time
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
from pneumo_desktop.core.watch import FilmWatcher, scan_arrivals
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.site_settings import WatchSettings
from pneumo_desktop.ui.workers import GeneratorWorker

#: Yielded by a run's worker when it starts watching its folder (not a ScanProgress).
WATCHING = object()


class _RunState:
    """What the GUI and the worker thread share about one run; each field has one writer."""

    def __init__(self) -> None:
        self.scan_id: int | None = None  # written by the worker at the first item
        self.end_state: ScanState | None = None  # written by the worker once the scan ended
        self.user_cancel = threading.Event()  # set by the GUI before it aborts the worker
        self.watch = threading.Event()  # set by the GUI: keep watching once the folder is done
        self.watch_settings = WatchSettings()  # written by the GUI before the run starts


def _scan_in_worker(worker_abort: threading.Event, *, db_path: Path,
                    classifier: SerialClassifier, folder: Path | None,
                    resume_scan_id: int | None, batch_size: int,
                    state: _RunState) -> Iterator[ScanProgress]:
    """Runs on the worker thread, so its store (SQLite connection) is created here.

    run_scan decides the end state: the user's Cancel (``state.user_cancel``) ends the scan
    CANCELLED; an abort without it (the app closing) leaves it RUNNING, so the next start
    offers to resume it. The worker's own abort event only stops the loop (the worker closes
    this generator at the next item); while watching, it is what stops the watch."""
    store = ResultStore(db_path)
    watchers: list[FilmWatcher] = []  # at most one; stopped however the run ends
    try:
        if state.watch.is_set():  # before the listing: nothing arriving meanwhile is missed
            watched = folder if folder is not None else _folder_of(store, resume_scan_id)
            if watched is not None and watched.is_dir():  # else run_scan says what is wrong
                watchers.append(_start_watcher(watched, state.watch_settings))
        with closing(run_scan(store, classifier, folder, resume_scan_id=resume_scan_id,
                              batch_size=batch_size, cancel=state.user_cancel)) as items:
            for item in items:
                state.scan_id = item.scan_id
                yield item
        _read_end_state(store, state)
        if state.watch.is_set() and state.end_state is ScanState.COMPLETE \
                and not worker_abort.is_set():
            yield from _watch(store, classifier, watchers, worker_abort, batch_size, state)
    except GeneratorExit:  # the worker stopped early; closing() has ended run_scan
        _read_end_state(store, state)
        raise
    else:
        _read_end_state(store, state)
    finally:
        for watcher in watchers:
            watcher.stop()
        store.close()


def _folder_of(store: ResultStore, scan_id: int | None) -> Path | None:
    try:
        return Path(store.scan(scan_id).folder)
    except KeyError:  # no such scan: run_scan says so
        return None


def _start_watcher(folder: Path, settings: WatchSettings) -> FilmWatcher:
    watcher = FilmWatcher(folder, settle_seconds=settings.settle_seconds,
                          polling=True if settings.polling else None)
    watcher.start()
    return watcher


def _watch(store: ResultStore, classifier: SerialClassifier, watchers: list[FilmWatcher],
           stop: threading.Event, batch_size: int,
           state: _RunState) -> Iterator[ScanProgress | object]:
    """The watching phase of a run: every new film into the open scan, until ``stop``. A
    watcher it starts goes into ``watchers`` (the caller stops it)."""
    scan_id = state.scan_id
    if not watchers:  # switched on during the run: the films that came meanwhile first
        watchers.append(_start_watcher(Path(store.scan(scan_id).folder),
                                       state.watch_settings))
        with closing(run_scan(store, classifier, resume_scan_id=scan_id,
                              batch_size=batch_size)) as items:
            for item in items:
                if item.result is not None:
                    yield item
    yield WATCHING
    started = time.monotonic()
    for scanned, result in enumerate(scan_arrivals(store, classifier, scan_id, watchers[0],
                                                   stop=stop, batch_size=batch_size), 1):
        info = store.scan(scan_id)
        yield ScanProgress(scan_id, info.done_files, max(info.total_files or 0,
                                                         info.done_files),
                           result, scanned, time.monotonic() - started)


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
        if item is WATCHING:
            self.controller.run_watching(self)
        else:
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
      stopped before the scan began, e.g. a missing folder);
    * ``watchingChanged(bool)``: the run began watching its folder for new films (True), or
      stopped watching (False).
    """

    started = Signal(object)
    progressed = Signal(object)
    finished = Signal(int, object)
    failed = Signal(int, object)
    watchingChanged = Signal(bool)  # noqa: N815 - Qt naming

    def __init__(self, inference: InferenceService, db_path: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path = inference, Path(db_path)
        self._run: _ScanRun | None = None
        self._watch = False
        self._watch_settings = WatchSettings()
        self._watching = False

    @property
    def is_running(self) -> bool:
        return self._run is not None

    @property
    def watch_enabled(self) -> bool:
        """Whether runs keep watching their folder once it is scanned."""
        return self._watch

    @property
    def is_watching(self) -> bool:
        """Whether the run in progress is watching its folder for new films now."""
        return self._watching

    @property
    def watched_folder(self) -> Path | None:
        """The folder being watched (None when not watching)."""
        if not self._watching or self._run is None or self._run.state.scan_id is None:
            return None
        with closing(ResultStore(self._db_path)) as store:
            return Path(store.scan(self._run.state.scan_id).folder)

    def set_watch(self, enabled: bool, settings: WatchSettings | None = None) -> None:
        """Watch each run's folder once it is scanned (see the module docstring). Switched
        on, the run in progress (if any) keeps watching when its folder is done; switched
        off, a run that is watching ends (its scan stays COMPLETE)."""
        self._watch = bool(enabled)
        if settings is not None:
            self._watch_settings = settings
        run = self._run
        if run is None:
            return
        if enabled:
            run.state.watch_settings = self._watch_settings
            run.state.watch.set()
        else:
            run.state.watch.clear()
            if self._watching:
                run.worker.abort()

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
        self._run.state.watch_settings = self._watch_settings
        if self._watch:
            self._run.state.watch.set()
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
        self._set_watching(False)
        self.finished.emit(run.scan_id, ScanState.CANCELLED)
        return stopped

    # Called by the current run's _ScanRun, on the GUI thread.
    def run_progressed(self, run: _ScanRun, item: ScanProgress) -> None:
        if run is self._run:
            (self.started if item.result is None else self.progressed).emit(item)

    def run_watching(self, run: _ScanRun) -> None:
        if run is self._run:
            self._set_watching(True)

    def _set_watching(self, watching: bool) -> None:
        if watching != self._watching:
            self._watching = watching
            self.watchingChanged.emit(watching)

    def run_finished(self, run: _ScanRun) -> None:
        if run is not self._run:
            return  # a run that shutdown() let go
        self._run = None
        self._set_watching(False)
        if run.error is not None:
            self.failed.emit(run.scan_id, run.error)
            return
        ended = run.state.end_state
        self.finished.emit(run.scan_id, ScanState.COMPLETE if ended is ScanState.COMPLETE
                           else ScanState.CANCELLED)
