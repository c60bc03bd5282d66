"""The workers: signals in order, errors reported, the registry of running workers; and the
model loaded and called on the inference thread in a fresh process."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest
from PySide6.QtCore import Qt, QThreadPool

from pneumo_desktop import runtime
from pneumo_desktop.ui.workers import (
    FunctionWorker,
    GeneratorWorker,
    await_workers,
    running_workers,
)
from tests.conftest import REPO_ROOT


def test_function_worker_returns_then_finishes(qtbot):
    worker = FunctionWorker(lambda a, b: a + b, 2, 3)
    returned = []
    worker.signals.returned.connect(returned.append)
    with qtbot.waitSignals(
        [worker.signals.started, worker.signals.returned, worker.signals.finished],
        order="strict",
    ):
        worker.start()
    assert returned == [5]
    assert worker.wait(5) and not worker.is_running()


def test_an_exception_is_emitted_not_raised(qtbot):
    def fail():
        raise ValueError("bad film")

    worker = FunctionWorker(fail)
    with qtbot.waitSignal(worker.signals.errored) as blocker:
        worker.start()
    assert isinstance(blocker.args[0], ValueError) and str(blocker.args[0]) == "bad film"
    assert worker.wait(5)


def test_a_worker_logs_the_exception_with_its_traceback_before_emitting_it(
    qtbot, tmp_path, monkeypatch
):
    monkeypatch.setenv(runtime.LOG_DIR_VARIABLE, str(tmp_path))
    log_file = runtime.configure("pneumo-desktop", gui=False)
    try:
        def write_the_report():
            raise OSError("disk full")

        worker = FunctionWorker(write_the_report)
        seen_in_log = []
        # Direct: the slot runs on the worker's thread at the moment of the emit.
        worker.signals.errored.connect(
            lambda error: seen_in_log.append("disk full" in log_file.read_text("utf-8")),
            Qt.ConnectionType.DirectConnection)
        with qtbot.waitSignal(worker.signals.finished):
            worker.start()
    finally:
        runtime.reset()
    assert seen_in_log == [True]  # logged before the widget heard of it
    text = log_file.read_text(encoding="utf-8")
    assert "worker running test_a_worker_logs" in text and "write_the_report failed" in text
    assert "Traceback" in text and 'raise OSError("disk full")' in text


def test_generator_worker_stops_when_aborted(qtbot):
    seen = []

    def numbers(cancel):
        for number in range(1000):
            if cancel.is_set():
                return
            time.sleep(0.01)  # slow enough for the GUI thread's abort to arrive mid-way
            yield number

    worker = GeneratorWorker(numbers)
    worker.signals.yielded.connect(lambda n: (seen.append(n), worker.abort() if n == 3 else None))
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.start()
    assert worker.wait(5)
    assert seen[:4] == [0, 1, 2, 3] and len(seen) < 1000


def test_a_worker_is_registered_until_its_run_ends(qtbot):
    release = threading.Event()
    worker = FunctionWorker(release.wait, 10)
    with qtbot.waitSignal(worker.signals.started):
        worker.start()
    assert worker in running_workers() and worker.is_running()
    with qtbot.waitSignal(worker.signals.finished):
        release.set()
    qtbot.waitUntil(lambda: worker not in running_workers())
    with pytest.raises(RuntimeError, match="started already"):
        worker.start()


def test_await_workers_aborts_and_waits_for_every_running_worker(qtbot):
    def forever(cancel):
        while not cancel.wait(0.01):
            yield None

    # More workers than the pool has threads: the last waits in its queue, and counts too.
    workers = [GeneratorWorker(forever).start() for _ in range(QThreadPool.globalInstance()
                                                                 .maxThreadCount() + 1)]
    qtbot.waitUntil(lambda: workers[0].is_running())
    assert set(workers) <= set(running_workers())
    assert await_workers(timeout=10)
    assert all(w.abort_requested and w.wait(0) for w in workers)
    assert not set(workers) & set(running_workers())


def test_a_queued_worker_taken_back_never_runs(qtbot):
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    release = threading.Event()
    busy = FunctionWorker(release.wait, 10).start(pool)
    ran = []
    queued = FunctionWorker(ran.append, "ran").start(pool)
    assert queued.take_back(pool) and queued.wait(0) and queued not in running_workers()
    release.set()
    assert busy.wait(10) and pool.waitForDone(10_000) and ran == []


def test_the_model_is_loaded_and_called_on_the_inference_thread(tiny_models_dir):
    """The app's own path, in a fresh process (nothing warm): the model loaded by the service
    on the inference thread, then three films classified there, as the viewer asks."""
    script = textwrap.dedent(
        f"""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import numpy as np
        from PySide6.QtCore import QCoreApplication, QEventLoop
        from pneumo_desktop.core.inference import classify_film
        from pneumo_desktop.ui.inference_service import InferenceService
        from pneumo_desktop.ui.main_window import load_classifier

        app = QCoreApplication([])

        def wait(request):
            out = {{}}
            request.returned.connect(lambda value: out.setdefault("value", value))
            request.errored.connect(lambda error: out.setdefault("value", error))
            loop = QEventLoop()
            request.finished.connect(loop.quit)
            loop.exec()
            return out["value"]

        service = InferenceService()
        wait(service.load(load_classifier, {str(tiny_models_dir)!r}))
        film = np.random.default_rng(0).uniform(0, 255, (300, 240)).astype("uint8")
        for _ in range(3):
            print("label", wait(service.submit(classify_film, film)).prediction.verdict)
        assert service.shutdown(30)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len([line for line in done.stdout.splitlines() if line.startswith("label ")]) == 3
    assert "label NORMAL" in done.stdout or "label PNEUMONIA" in done.stdout
