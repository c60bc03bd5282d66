"""The widgets' door to the inference thread: model work as requests whose outcome arrives as
signals on the GUI thread.

One :class:`InferenceService` per window owns the :class:`~pneumo_desktop.core.inference.
InferenceThread` and, once loaded, the classifier. Widgets never call the model:

* :meth:`InferenceService.submit` queues ``fn(classifier, ...)`` on the inference thread and
  returns a :class:`Request`, which emits ``returned``, ``errored`` or ``cancelled``, then
  ``finished``, all on the GUI thread (``progressed`` on the way, for step-wise work).
* :meth:`InferenceService.client` gives code running on a worker thread (a scan, a report) a
  :class:`~pneumo_desktop.core.inference.SerialClassifier`: its model calls go to the same
  thread, at that code's priority.
* ``classifierReady`` says the model has arrived (:meth:`load`, or :meth:`set_classifier` with
  one already loaded); ``classifierFailed`` carries the exception when it could not be loaded.

A request is a QObject made and dropped on the GUI thread only: the inference thread knows it
by number (the future's callback and the progress callback hold the number and a weak
reference to the service), so no Qt object is ever freed on that thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from PySide6.QtCore import QObject, Qt, Signal

from pneumo_desktop.core.inference import InferenceThread, Priority, SerialClassifier

log = logging.getLogger(__name__)


class Request(QObject):
    """One job on the inference thread, seen from the GUI thread. Exactly one of
    ``returned``, ``errored`` and ``cancelled`` is emitted, then ``finished``."""

    returned = Signal(object)
    errored = Signal(object)  # the exception (already logged with its traceback)
    cancelled = Signal()
    progressed = Signal(int, int)  # done, total
    finished = Signal()

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description
        #: Set by :meth:`cancel`; step-wise work (LIME) stops at its next step when it is set.
        self.cancel_event = threading.Event()
        self._future: Future | None = None
        self._done = False

    def cancel(self) -> None:
        """Stop caring about the outcome: a queued job never runs, a running one is asked to
        stop, and only ``cancelled`` is emitted (on the GUI thread, later)."""
        self.cancel_event.set()
        if self._future is not None:
            self._future.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    @property
    def is_done(self) -> bool:
        """Whether ``finished`` has been emitted."""
        return self._done

    def _settle(self, future: Future) -> None:
        self._future, self._done = None, True
        if self.is_cancelled or future.cancelled():
            self.cancelled.emit()
        elif future.exception() is not None:
            error = future.exception()
            log.error("%s failed", self.description, exc_info=error)
            self.errored.emit(error)
        else:
            self.returned.emit(future.result())
        self.finished.emit()


def _deliver(service: weakref.ref, number: int, future: Future) -> None:
    """The future's callback, on the inference thread (or wherever it was cancelled)."""
    owner = service()
    if owner is not None:
        owner._settled.emit(number, future)


def _progress_reporter(service: weakref.ref, number: int) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        owner = service()
        if owner is not None:
            owner._progressed.emit(number, done, total)

    return report


class InferenceService(QObject):
    """See the module docstring. ``classifier`` may be given when it is already loaded."""

    classifierReady = Signal(object)  # noqa: N815 - Qt naming; the classifier
    classifierFailed = Signal(object)  # noqa: N815 - the exception
    # From the inference thread to this object's slots on the GUI thread.
    _settled = Signal(int, object)
    _progressed = Signal(int, int, int)

    def __init__(self, classifier=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = InferenceThread()
        self._classifier = classifier
        self._requests: dict[int, Request] = {}  # submitted, not yet settled
        self._numbers = itertools.count(1)
        self._settled.connect(self._on_settled, Qt.ConnectionType.QueuedConnection)
        self._progressed.connect(self._on_progressed, Qt.ConnectionType.QueuedConnection)

    @property
    def classifier(self):
        """The loaded classifier, None until then. Read its card and sizes freely; run it only
        through :meth:`submit` or :meth:`client`."""
        return self._classifier

    @property
    def is_ready(self) -> bool:
        """Whether the classifier is loaded (and the service not shut down)."""
        return self._classifier is not None

    @property
    def is_running(self) -> bool:
        """Whether the inference thread is alive (False once :meth:`shutdown` has waited)."""
        return self._thread.is_alive

    def load(self, load: Callable, *args) -> Request:
        """Run ``load(*args)`` on the inference thread (so TensorFlow starts there); its
        classifier is announced by ``classifierReady``, a failure by ``classifierFailed``."""
        request = self._enqueue(load, args, {}, Priority.INTERACTIVE, "loading the model")
        request.returned.connect(self.set_classifier)
        request.errored.connect(self.classifierFailed)
        return request

    def set_classifier(self, classifier) -> None:
        self._classifier = classifier
        self.classifierReady.emit(classifier)

    def submit(self, fn: Callable, *args, priority: Priority = Priority.EXPLAIN,
               stepwise: bool = False, **kwargs) -> Request:
        """Queue ``fn(classifier, *args, **kwargs)`` on the inference thread. ``stepwise``:
        ``fn`` also takes ``progress(done, total)`` and ``cancel`` (a threading.Event), as
        :func:`~pneumo_desktop.core.explain.lime_explanation` does. RuntimeError before the
        model is loaded or after :meth:`shutdown`."""
        if self._classifier is None:
            raise RuntimeError("the model is not loaded")
        return self._enqueue(fn, (self._classifier, *args), kwargs, priority,
                             getattr(fn, "__qualname__", repr(fn)), stepwise)

    def client(self, priority: Priority = Priority.BACKGROUND) -> SerialClassifier:
        """The classifier for code on a worker thread; see the module docstring."""
        if self._classifier is None:
            raise RuntimeError("the model is not loaded")
        return SerialClassifier(self._classifier, self._thread, priority)

    def shutdown(self, timeout: float = 60.0) -> bool:
        """Cancel every request (their ``cancelled`` still arrives), refuse new ones, and wait
        for the job running now; True when the inference thread has ended."""
        for request in list(self._requests.values()):
            request.cancel()
        self._classifier = None
        return self._thread.shutdown(timeout)

    def _enqueue(self, fn: Callable, args: tuple, kwargs: dict, priority: Priority,
                 description: str, stepwise: bool = False) -> Request:
        number, request, service = next(self._numbers), Request(description), weakref.ref(self)
        if stepwise:
            kwargs = dict(kwargs, progress=_progress_reporter(service, number),
                          cancel=request.cancel_event)
        future = self._thread.submit(fn, *args, priority=priority, **kwargs)
        request._future = future
        self._requests[number] = request
        future.add_done_callback(partial(_deliver, service, number))
        return request

    def _on_settled(self, number: int, future: Future) -> None:
        request = self._requests.pop(number, None)
        if request is not None:
            request._settle(future)

    def _on_progressed(self, number: int, done: int, total: int) -> None:
        request = self._requests.get(number)
        if request is not None and not request.is_cancelled:
            request.progressed.emit(done, total)
