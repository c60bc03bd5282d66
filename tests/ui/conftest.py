"""Fixtures of the widget tests: the inference service the widgets take, with a model already
loaded, or still loading. Every service a test made is shut down after it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pneumo_desktop.ui.inference_service import InferenceService


@pytest.fixture
def make_inference(qtbot) -> Callable[..., InferenceService]:
    """``make_inference(classifier=None)``: a service over ``classifier`` (None: loading)."""
    made: list[InferenceService] = []

    def make(classifier=None) -> InferenceService:
        made.append(InferenceService(classifier))
        return made[-1]

    yield make
    for service in made:
        assert service.shutdown(timeout=60), "the inference thread did not end"


@pytest.fixture
def inference(make_inference, tiny_classifier) -> InferenceService:
    """A service whose classifier (the tiny model) is loaded."""
    return make_inference(tiny_classifier)


@pytest.fixture
def loading_inference(make_inference) -> InferenceService:
    """A service whose model has not arrived yet (``set_classifier`` brings it)."""
    return make_inference()
