"""Running core work off the GUI thread, in the manner of superqt's workers.

A :class:`QRunnable` is not a :class:`QObject`, so the signals live on :class:`WorkerSignals`.
Workers never touch widgets: they emit, and slots on the GUI thread update the view.

* :class:`FunctionWorker` runs ``fn(*args, **kwargs)`` and emits ``returned`` with its value.
* :class:`GeneratorWorker` runs a generator and emits ``yielded`` for every item; between items
  it checks :meth:`abort` (the generator also receives a ``threading.Event`` it may check).
Either way ``started`` comes first and ``finished`` last, whatever happened in between; an
exception is logged with its traceback, then emitted through ``errored`` (never raised into
Qt's event loop): the widget shows one line, the log keeps the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

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
    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it to abort it and wait for it
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._started = threading.Event()
        self._done = threading.Event()

    def abort(self) -> None:
        self.cancel_event.set()

    @property
    def abort_requested(self) -> bool:
        return self.cancel_event.is_set()

    def is_running(self) -> bool:
        return self._started.is_set() and not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has finished; True if it did within ``timeout`` seconds."""
        return self._done.wait(timeout)

    def start(self, pool: QThreadPool | None = None) -> "_WorkerBase":
        self._started.set()
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def run(self) -> None:  # executed on a pool thread
        self.signals.started.emit()
        try:
            self.work()
        except Exception as error:  # reported to the GUI, never raised into the event loop
            log.exception("%s failed", self.description)
            self.signals.errored.emit(error)
        finally:
            self._done.set()
            self.signals.finished.emit()

    def work(self) -> None:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """What this worker runs, for the log."""
        return type(self).__name__


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
