"""The one thread that runs the model: a priority executor, and a classifier facade over it.

Thread contract
---------------
* One daemon thread, :class:`InferenceThread`, owns the classifier. It loads it, and it runs
  every call that uses the model: classify, a scan's batches, Grad-CAM, LIME, feature maps, and
  the model part of the case and scan reports, one at a time. No other thread calls the model.
  One call at a time keeps the film on screen ahead of an overnight scan (the engine's own
  threads already use every core, so two calls at once only slow each other down), bounds the
  memory of the batches in flight, and leaves one place to look when a model call misbehaves.
* :meth:`InferenceThread.submit` may be called from any thread and returns a
  :class:`concurrent.futures.Future`. Jobs run by :class:`Priority` (INTERACTIVE, then EXPLAIN,
  then BACKGROUND), first come first served within one priority.
* A job is never interrupted. Long work is cut into jobs by its caller (a scan submits one job
  per batch, through :class:`SerialClassifier`) or stops itself between steps (LIME checks its
  cancel event after each batch), so an interactive request waits for one job at most.
* A job may submit more jobs but must not wait for them: the thread would wait for itself.
  :class:`SerialClassifier` and :func:`call_model` used on the inference thread itself therefore
  run the call in place.
* Work that does not run the model (decoding, ``classifier.prepare``, drawing a PDF) stays on
  the caller's threads, in parallel. The one exception is :func:`classify_film`, which prepares
  the viewer's single film (milliseconds) in the same job as its classification.
* :meth:`InferenceThread.shutdown` refuses new jobs, cancels the queued ones (their futures raise
  :class:`~concurrent.futures.CancelledError`) and waits for the running one.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import IntEnum
from functools import partial
from typing import Any

import numpy as np

from .results import Prediction


class Priority(IntEnum):
    """Which queued job runs first: the lower, the sooner."""

    INTERACTIVE = 0  # the film on screen: loading the model, classifying the film
    EXPLAIN = 1  # Grad-CAM, feature maps, LIME and the case report of the film on screen
    BACKGROUND = 2  # a scan's batches, a scan report


@dataclass(order=True)
class _Job:
    priority: int
    sequence: int  # first come first served within one priority
    future: Future = field(compare=False)
    call: Callable[[], Any] | None = field(compare=False)  # None: the thread ends


class InferenceThread:
    """One daemon thread running submitted jobs by priority; see the module's contract."""

    def __init__(self, name: str = "inference") -> None:
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._lock = threading.Lock()  # submit and shutdown: nothing queued after the end
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, /, *args, priority: Priority = Priority.INTERACTIVE,
               **kwargs) -> Future:
        """Queue ``fn(*args, **kwargs)``; RuntimeError after :meth:`shutdown`."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the inference thread has been shut down")
            call = partial(fn, *args, **kwargs)
            self._queue.put(_Job(int(priority), next(self._sequence), future, call))
        return future

    def is_owner(self) -> bool:
        """Whether the calling thread is the inference thread."""
        return threading.current_thread() is self._thread

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel the queued jobs and wait up to ``timeout`` seconds for the running one; True
        when the thread has ended."""
        with self._lock:
            if not self._closed:
                self._closed = True
                while True:
                    try:
                        self._queue.get_nowait().future.cancel()
                    except queue.Empty:
                        break
                self._queue.put(_Job(-1, -1, Future(), None))
        if self.is_owner():  # a job shutting its own thread down cannot wait for itself
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job.call is None:
                return
            _execute(job)
            del job  # its arguments (films) are not kept while the thread waits for the next


def _execute(job: _Job) -> None:
    if not job.future.set_running_or_notify_cancel():
        return  # cancelled while queued
    try:
        result = job.call()
    except BaseException as error:  # handed to whoever waits on the future
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


class SerialClassifier:
    """A classifier for code on other threads: its model calls run on the inference thread.

    :meth:`classify_batch` and :meth:`classify` are submitted at this facade's priority and
    waited for; :meth:`call` runs any ``fn(classifier, ...)`` the same way (Grad-CAM in a
    report). Every other attribute (``card``, ``threshold``, ``input_size``, ``prepare``…) is
    the classifier's own, and none of those runs the model. A scan given this facade thus
    sends each batch to the inference thread, and a film opened meanwhile is classified between
    two batches.
    """

    def __init__(self, classifier, executor: InferenceThread, priority: Priority) -> None:
        self._classifier, self._executor, self._priority = classifier, executor, priority

    @property
    def priority(self) -> Priority:
        return self._priority

    def call(self, fn: Callable, *args, **kwargs):
        """``fn(classifier, *args, **kwargs)`` on the inference thread; its result or its
        exception (CancelledError when the thread was shut down first)."""
        if self._executor.is_owner():
            return fn(self._classifier, *args, **kwargs)
        return self._executor.submit(
            fn, self._classifier, *args, priority=self._priority, **kwargs
        ).result()

    def classify_batch(self, model_inputs: np.ndarray) -> list[Prediction]:
        return self.call(lambda classifier: classifier.classify_batch(model_inputs))

    def classify(self, model_input: np.ndarray) -> Prediction:
        return self.call(lambda classifier: classifier.classify(model_input))

    def __getattr__(self, name: str):
        return getattr(self._classifier, name)


def call_model(classifier, fn: Callable, *args, **kwargs):
    """``fn(classifier, *args, **kwargs)``: on the inference thread when ``classifier`` is a
    :class:`SerialClassifier`, in place otherwise (the command line, which has one thread)."""
    if isinstance(classifier, SerialClassifier):
        return classifier.call(fn, *args, **kwargs)
    return fn(classifier, *args, **kwargs)


@dataclass(frozen=True)
class FilmClassification:
    """What the model made of one film: the input it saw and its prediction. An explanation of
    the film takes its input from here, never from the film, so it explains what was
    classified (preprocessed exactly as the classifier does)."""

    model_input: np.ndarray
    prediction: Prediction


def classify_film(classifier, image) -> FilmClassification:
    """Prepare and classify one loaded film (a job for the inference thread)."""
    model_input = classifier.prepare(image)
    return FilmClassification(model_input, classifier.classify(model_input))
