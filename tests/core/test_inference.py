"""The inference thread: priorities, one thread for every model call, shutdown, and the
classifier facade a scan or a report runs the model through."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import run_scan
from pneumo_desktop.core.inference import (
    InferenceThread,
    Priority,
    SerialClassifier,
    call_model,
    classify_film,
)
from pneumo_desktop.core.store import ResultStore
from tests.conftest import synthetic_xray


@pytest.fixture
def executor():
    thread = InferenceThread()
    yield thread
    assert thread.shutdown(timeout=30)


def _hold(executor: InferenceThread) -> threading.Event:
    """Keep the thread busy until the returned event is set, so later jobs queue up."""
    release, running = threading.Event(), threading.Event()
    executor.submit(lambda: (running.set(), release.wait(30)), priority=Priority.INTERACTIVE)
    assert running.wait(10)
    return release


def test_queued_jobs_run_by_priority_then_in_order(executor):
    release = _hold(executor)
    order = []
    jobs = [("scan batch 1", Priority.BACKGROUND), ("gradcam", Priority.EXPLAIN),
            ("scan batch 2", Priority.BACKGROUND), ("viewer film", Priority.INTERACTIVE),
            ("feature maps", Priority.EXPLAIN)]
    futures = [executor.submit(order.append, name, priority=priority) for name, priority in jobs]
    release.set()
    for future in futures:
        future.result(10)
    assert order == ["viewer film", "gradcam", "feature maps", "scan batch 1", "scan batch 2"]


def test_every_job_runs_on_the_one_inference_thread(executor):
    names = {executor.submit(lambda: threading.current_thread().name).result(10)
             for _ in range(5)}
    assert names == {"inference"}
    assert executor.submit(executor.is_owner).result(10) and not executor.is_owner()


def test_an_exception_reaches_whoever_waits(executor):
    future = executor.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(10)
    assert executor.submit(lambda: "still serving").result(10) == "still serving"


def test_shutdown_cancels_queued_jobs_waits_for_the_running_one_and_refuses_new_ones():
    executor = InferenceThread()
    release = _hold(executor)
    ran = []
    queued = executor.submit(ran.append, "queued", priority=Priority.BACKGROUND)
    threading.Timer(0.2, release.set).start()
    assert executor.shutdown(timeout=10)
    assert queued.cancelled() and ran == [] and not executor.is_alive
    with pytest.raises(CancelledError):
        queued.result(0)
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit(ran.append, "late")


class RecordingClassifier:
    """Stands for a classifier: records on which thread each model call ran."""

    card, input_size = "the card", 4

    def __init__(self):
        self.threads = []

    def classify_batch(self, model_inputs):
        self.threads.append(threading.current_thread().name)
        return [float(x.sum()) for x in model_inputs]

    def classify(self, model_input):
        return self.classify_batch(model_input[None])[0]

    def prepare(self, image):
        return np.asarray(image, np.float32)


def test_the_facade_sends_model_calls_to_the_inference_thread(executor):
    inner = RecordingClassifier()
    facade = SerialClassifier(inner, executor, Priority.BACKGROUND)
    assert facade.classify_batch(np.ones((2, 3))) == [3.0, 3.0]
    assert facade.classify(np.ones(2)) == 2.0
    assert inner.threads == ["inference", "inference"]
    assert facade.card == "the card" and facade.input_size == 4  # the rest is the classifier's
    assert facade.priority is Priority.BACKGROUND
    # Used inside a job it runs in place: a job waiting for a job would wait forever.
    assert executor.submit(lambda: facade.classify(np.ones(3))).result(10) == 3.0
    assert call_model(facade, lambda c, x: (c is inner, x), 7) == (True, 7)
    assert call_model(inner, lambda c: threading.current_thread().name) == "MainThread"


def test_classify_film_prepares_and_classifies_the_film():
    inner = RecordingClassifier()
    result = classify_film(inner, np.full((2, 2), 3))
    assert np.array_equal(result.model_input, np.full((2, 2), 3.0))
    assert result.prediction == 12.0


def test_a_scan_through_the_facade_runs_every_batch_on_the_inference_thread(
    executor, tiny_classifier, tmp_path
):
    folder = tmp_path / "films"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(5):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0)).save(folder / f"{index}.png")

    class Recording:
        def __init__(self, inner):
            self.inner, self.threads = inner, []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def classify_batch(self, images):
            self.threads.append(threading.current_thread().name)
            return self.inner.classify_batch(images)

    recording = Recording(tiny_classifier)
    with ResultStore(tmp_path / "r.sqlite3") as store:
        items = list(run_scan(store, SerialClassifier(recording, executor, Priority.BACKGROUND),
                              folder, batch_size=2))
    assert len(items) == 6 and sum(item.result is not None for item in items) == 5
    assert recording.threads == ["inference"] * 3  # batches of 2, 2 and 1
