"""Running core work off the GUI thread, in the manner of superqt's workers.

A :class:`QRunnable` is not a :class:`QObject`, so the signals live on :class:`WorkerSignals`.
Workers never touch widgets: they emit, and slots on the GUI thread update the view.

* :class:`FunctionWorker` runs ``fn(*args, **kwargs)`` and emits ``returned`` with its value.
* :class:`GeneratorWorker` runs a generator and emits ``yielded`` for every item; between items
  it checks :meth:`abort` (the generator also receives a ``threading.Event`` it may check).
Either way ``started`` comes first and ``finished`` last, whatever happened in between; an
exception is logged with its traceback, then emitted through ``errored`` (never raised into
Qt's event loop): the widget shows one line, the log keeps the rest.

Lifetimes follow superqt's registry (``WorkerBase._worker_set``): :meth:`start` puts a worker in
one class-level set and the worker takes itself out as the very last step of its run, after its
last signal. So a running worker is always referenced, whoever else drops it, and nobody keeps
finished workers around "just in case". :func:`await_workers` (the window closing) aborts every
running worker and waits for them all. Model work does not run here: it goes to the inference
thread (``core.inference``) through :class:`~pneumo_desktop.ui.inference_service.InferenceService`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    progress = Signal(int, int)
    returned = Signal(object)
    errored = Signal(object)  # the exception instance
    aborted = Signal()
    finished = Signal()


class _WorkerBase(QRunnable):
    #: Every started worker until the end of its run (superqt's ``_worker_set``).
    _running: ClassVar[set[_WorkerBase]] = set()
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it: the registry, then whoever holds it
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._started = threading.Event()
        self._done = threading.Event()  # the work has ended: set just before ``finished``
        self._retired = threading.Event()  # out of the registry: its thread is done with it

    def abort(self) -> None:
        self.cancel_event.set()

    @property
    def abort_requested(self) -> bool:
        return self.cancel_event.is_set()

    def is_running(self) -> bool:
        return self._started.is_set() and not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has ended (``finished`` follows at once); True if it did
        within ``timeout`` seconds."""
        return self._done.wait(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Block until its thread is done with the worker (it has left the registry); True if
        it was within ``timeout`` seconds."""
        return self._retired.wait(timeout)

    def start(self, pool: QThreadPool | None = None) -> _WorkerBase:
        with self._registry_lock:
            if self in self._running or self._done.is_set():
                raise RuntimeError(f"{self.description} was started already")
            self._running.add(self)
        self._started.set()
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def take_back(self, pool: QThreadPool | None = None) -> bool:
        """Remove a worker that has not begun from ``pool``'s queue; True if it will not run."""
        if not (pool or QThreadPool.globalInstance()).tryTake(self):
            return False
        self._done.set()
        self._retire()
        return True

    def run(self) -> None:  # executed on a pool thread
        try:
            self.signals.started.emit()
            self.work()
        except Exception as error:  # reported to the GUI, never raised into the event loop
            log.exception("%s failed", self.description)
            self.signals.errored.emit(error)
        finally:
            self._done.set()  # before finished: its slots see the worker as done
            self.signals.finished.emit()
            self._retire()

    def _retire(self) -> None:
        with self._registry_lock:
            self._running.discard(self)  # the last step: nothing of the worker is used after
        self._retired.set()

    def work(self) -> None:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """What this worker runs, for the log."""
        return type(self).__name__


def running_workers() -> list[_WorkerBase]:
    """The workers started and not yet finished, in no order."""
    with _WorkerBase._registry_lock:
        return list(_WorkerBase._running)


def await_workers(timeout: float | None = None) -> bool:
    """Abort every running worker and wait until all have finished (superqt's
    ``WorkerBase.await_workers``); True when they did within ``timeout`` seconds. A worker that
    ignores abort (a report being written) is waited for: a half-written file would be left."""
    deadline = None if timeout is None else time.monotonic() + timeout
    workers = running_workers()
    for worker in workers:
        worker.abort()
    for worker in workers:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not worker.join(remaining):
            log.warning("%s did not finish within %s s", worker.description, timeout)
            return False
    return True


def _name_of(function: Callable) -> str:
    function = getattr(function, "func", function)  # functools.partial
    return getattr(function, "__qualname__", repr(function))


class FunctionWorker(_WorkerBase):
    """Runs ``fn``; if ``fn`` accepts ``progress``/``cancel`` keywords pass them via kwargs
    using :meth:`report_progress` and :attr:`cancel_event`."""

    def __init__(self, fn: Callable, *args, **kwargs) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs

    @property
    def description(self) -> str:
        return f"worker running {_name_of(self._fn)}"

    def report_progress(self, done: int, total: int) -> None:
        self.signals.progress.emit(done, total)

    def work(self) -> None:
        result = self._fn(*self._args, **self._kwargs)
        if self.abort_requested:
            self.signals.aborted.emit()
        else:
            self.signals.returned.emit(result)


class GeneratorWorker(_WorkerBase):
    """Runs ``make_generator(cancel_event)``; each item is emitted through ``yielded``."""

    def __init__(self, make_generator: Callable[[threading.Event], Iterator]) -> None:
        super().__init__()
        self._make_generator = make_generator

    @property
    def description(self) -> str:
        return f"worker running {_name_of(self._make_generator)}"

    def work(self) -> None:
        generator = self._make_generator(self.cancel_event)
        try:
            for item in generator:
                self.signals.yielded.emit(item)
                if self.abort_requested:
                    self.signals.aborted.emit()
                    return
        finally:
            generator.close()
        self.signals.returned.emit(None)


class JobTracker:
    """The workers one widget started, so it can drop those not begun yet (films paged past)
    and stop its own on close. Keeping them alive is the registry's job, not this one's."""

    def __init__(self, pool: QThreadPool | None = None) -> None:
        self.pool = pool or QThreadPool.globalInstance()
        self._workers: list[_WorkerBase] = []

    def start(self, worker: _WorkerBase) -> _WorkerBase:
        self._workers = [w for w in self._workers if not w.wait(0)]
        self._workers.append(worker)
        worker.start(self.pool)
        return worker

    @property
    def busy(self) -> bool:
        """Whether one of this widget's workers has not finished."""
        return any(not worker.wait(0) for worker in self._workers)

    def drop_queued(self) -> None:
        """Forget workers that have not started yet (e.g. loads of images already skipped)."""
        self._workers = [w for w in self._workers if not w.take_back(self.pool)]

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Abort this widget's workers and wait for them; True when all finished in time."""
        self.drop_queued()
        for worker in self._workers:
            worker.abort()
        done = all([worker.join(timeout) for worker in self._workers])  # wait for each
        self._workers = []
        return done
