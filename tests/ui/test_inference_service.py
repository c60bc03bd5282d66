"""The inference service: jobs run on the inference thread, their outcomes arrive as signals on
the GUI thread, cancelled requests say so and nothing else, the model loads there too."""

from __future__ import annotations

import threading

import pytest

from pneumo_desktop.core.inference import Priority
from pneumo_desktop.ui.inference_service import InferenceService

TIMEOUT_MS = 10_000


def outcome_of(qtbot, request) -> list:
    """Every signal the request emits, in order, with the thread each slot ran on."""
    seen = []
    for name in ("returned", "errored", "cancelled", "progressed", "finished"):
        getattr(request, name).connect(
            lambda *args, name=name: seen.append((name, args, threading.current_thread().name)))
    with qtbot.waitSignal(request.finished, timeout=TIMEOUT_MS):
        pass
    return seen


def hold(service: InferenceService) -> threading.Event:
    """Keep the inference thread busy until the returned event is set."""
    release, running = threading.Event(), threading.Event()
    service.submit(lambda classifier: (running.set(), release.wait(30)),
                   priority=Priority.INTERACTIVE)
    assert running.wait(10)
    return release


def test_a_job_runs_on_the_inference_thread_and_returns_on_the_gui_thread(qtbot, make_inference):
    service = make_inference("the classifier")
    request = service.submit(lambda classifier, x: (classifier, x, threading.current_thread().name),
                             5)
    assert outcome_of(qtbot, request) == [
        ("returned", (("the classifier", 5, "inference"),), "MainThread"),
        ("finished", (), "MainThread"),
    ]
    assert request.is_done


def test_an_error_is_logged_then_emitted(qtbot, make_inference, caplog):
    service = make_inference("the classifier")

    def explain_the_film(classifier):
        raise ValueError("no such layer")

    seen = outcome_of(qtbot, service.submit(explain_the_film))
    [(name, (error,), thread), finished] = seen
    assert (name, thread, finished[0]) == ("errored", "MainThread", "finished")
    assert isinstance(error, ValueError) and str(error) == "no such layer"
    assert "explain_the_film failed" in caplog.text and "Traceback" in caplog.text


def test_step_wise_work_reports_progress_and_stops_when_cancelled(qtbot, make_inference):
    service = make_inference("the classifier")
    stepped, stopped = threading.Event(), threading.Event()

    def lime_like(classifier, *, progress, cancel):
        for step in range(1, 1000):
            progress(step, 1000)
            stepped.set()
            if cancel.wait(0.01):
                stopped.set()
                raise RuntimeError("cancelled")  # as lime_explanation raises
        return "finished"

    request = service.submit(lime_like, stepwise=True)
    with qtbot.waitSignal(request.progressed, timeout=TIMEOUT_MS) as progressed:
        pass
    assert progressed.args[1] == 1000
    request.cancel()
    seen = outcome_of(qtbot, request)
    assert [name for name, *_ in seen if name != "progressed"] == ["cancelled", "finished"]
    assert stopped.is_set()  # the job itself stopped, not just its outcome ignored


def test_a_cancelled_queued_job_never_runs(qtbot, make_inference):
    service = make_inference("the classifier")
    release = hold(service)
    ran = []
    request = service.submit(lambda classifier: ran.append("ran"))
    request.cancel()
    release.set()
    assert [name for name, *_ in outcome_of(qtbot, request)] == ["cancelled", "finished"]
    assert ran == []


def test_loading_the_model_there_announces_it_or_why_not(qtbot, make_inference):
    service = make_inference()
    assert not service.is_ready
    with pytest.raises(RuntimeError, match="not loaded"):
        service.submit(lambda classifier: None)
    with qtbot.waitSignal(service.classifierReady, timeout=TIMEOUT_MS) as ready:
        service.load(lambda: ("classifier", threading.current_thread().name))
    assert ready.args == [("classifier", "inference")] and service.is_ready

    def refuse():
        raise OSError("model card not found")

    failing = make_inference()
    with qtbot.waitSignal(failing.classifierFailed, timeout=TIMEOUT_MS) as failed:
        failing.load(refuse)
    assert str(failed.args[0]) == "model card not found" and not failing.is_ready


def test_shutdown_cancels_what_is_queued_and_ends_the_thread(qtbot):
    service = InferenceService("the classifier")
    release = hold(service)
    queued = service.submit(lambda classifier: "never")
    threading.Timer(0.2, release.set).start()
    assert service.shutdown(timeout=10)
    assert not service.is_running and not service.is_ready
    assert [name for name, *_ in outcome_of(qtbot, queued)] == ["cancelled", "finished"]
