"""The scan controller on its own (no tab): its signals, its end states, and its batches going
through the one inference thread, so the viewer's film is classified between two of them."""

from __future__ import annotations

import threading

import pytest

from pneumo_desktop.core.results import Band, ScanState
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.scan_controller import ScanController
from pneumo_desktop.ui.viewer_tab import ViewerTab
from tests.ui.test_batch_tab import write_films

TIMEOUT_MS = 60_000


class GatedClassifier:
    """The tiny classifier, recording each model call with its thread; the first scan batch
    waits at a gate until the test opens it."""

    def __init__(self, inner) -> None:
        self._inner, self.calls = inner, []
        self.gate, self.in_first_batch = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def classify_batch(self, images):  # the scan's calls
        self.calls.append(("batch", threading.current_thread().name))
        if len(self.calls) == 1:
            self.in_first_batch.set()
            assert self.gate.wait(30)
        return self._inner.classify_batch(images)

    def classify(self, model_input):  # the viewer's call
        self.calls.append(("film", threading.current_thread().name))
        return self._inner.classify(model_input)


def test_a_film_opened_during_a_scan_is_classified_between_two_batches(
    qtbot, make_inference, tiny_classifier, tmp_path
):
    gated = GatedClassifier(tiny_classifier)
    inference = make_inference(gated)
    controller = ScanController(inference, tmp_path / "r.sqlite3")
    viewer = ViewerTab(inference)
    qtbot.addWidget(viewer)
    folder = write_films(tmp_path / "night", 8)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as finished:
        controller.start(folder, batch_size=2)
        assert gated.in_first_batch.wait(30)
        with qtbot.waitSignal(viewer.imageLoaded, timeout=TIMEOUT_MS):
            viewer.open_path(folder / "film_005.png")  # its classification is now queued
        with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS):
            gated.gate.set()
    assert finished.args[1] is ScanState.COMPLETE
    assert gated.calls == [("batch", "inference"), ("film", "inference")] + \
        [("batch", "inference")] * 3
    assert viewer.banner.state in tuple(Band)  # a band: a verdict was shown


def test_signals_of_a_scan_from_start_to_end(qtbot, inference, tmp_path):
    controller = ScanController(inference, tmp_path / "r.sqlite3")
    assert controller.problem() is None and not controller.is_running
    started, progressed = [], []
    controller.started.connect(started.append)
    controller.progressed.connect(progressed.append)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS) as finished:
        controller.start(write_films(tmp_path / "day", 3), batch_size=2)
        assert controller.problem() == "A scan is already running."
        with pytest.raises(RuntimeError, match="already running"):
            controller.start(tmp_path)
    scan_id, state = finished.args
    assert [item.scan_id for item in started] == [scan_id] and started[0].total == 3
    assert [item.done for item in progressed] == [1, 2, 3]
    assert all(item.result is not None for item in progressed)
    assert state is ScanState.COMPLETE and not controller.is_running
    with ResultStore(tmp_path / "r.sqlite3") as store:
        assert store.scan(scan_id).state is ScanState.COMPLETE


def test_a_missing_folder_fails_before_a_scan_begins(qtbot, inference, tmp_path):
    controller = ScanController(inference, tmp_path / "r.sqlite3")
    with qtbot.assertNotEmitted(controller.finished, wait=0):
        with qtbot.waitSignal(controller.failed, timeout=TIMEOUT_MS) as failed:
            controller.start(tmp_path / "vanished")
    scan_id, error = failed.args
    assert scan_id == -1 and "folder not found" in str(error) and not controller.is_running


def test_no_scan_without_the_model(qtbot, loading_inference, tmp_path):
    controller = ScanController(loading_inference, tmp_path / "r.sqlite3")
    assert controller.problem() == "The model is still loading."
    with pytest.raises(RuntimeError, match="still loading"):
        controller.start(tmp_path)
