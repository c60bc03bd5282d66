import threading

import numpy as np
import pytest

from pneumo_desktop.core.explain import (
    ExplanationCancelled,
    _fast_explainer_class,
    conv_layer_names,
    feature_maps,
    gradcam,
    lime_explanation,
)
from tests.conftest import synthetic_xray


@pytest.fixture
def model_input(tiny_classifier):
    return tiny_classifier.prepare(synthetic_xray(np.random.default_rng(2), True, size=224))


def test_gradcam_is_a_heat_map_over_the_model_input(tiny_classifier, model_input):
    cam = gradcam(tiny_classifier, model_input)
    assert cam.shape == (224, 224)
    assert cam.min() >= 0.0 and cam.max() <= 1.0


def test_feature_maps_of_every_convolution(tiny_classifier, model_input):
    names = conv_layer_names(tiny_classifier.model)
    assert names == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    first, last = (feature_maps(tiny_classifier, model_input, n) for n in (names[0], names[-1]))
    assert first.ndim == last.ndim == 3
    assert first.shape[-1] == 32 and last.shape[-1] == 256
    assert first.shape[0] > last.shape[0]


def test_fast_lime_gives_exactly_lime_s_explanation():
    from lime import lime_image

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (64, 64, 3))
    image[:32] *= 0.3

    def classifier_fn(images):
        brightness = images.mean(axis=(1, 2, 3)) / 255
        return np.stack([brightness, 1 - brightness], axis=1)

    arguments = dict(labels=(1,), top_labels=None, hide_color=0, num_samples=200,
                     batch_size=50, random_seed=0)
    stock = lime_image.LimeImageExplainer(random_state=0).explain_instance(
        image, classifier_fn, **arguments)
    fast = _fast_explainer_class()(random_state=0).explain_instance(
        image, classifier_fn, **arguments)
    np.testing.assert_allclose(np.array(sorted(stock.local_exp[1])),
                               np.array(sorted(fast.local_exp[1])))
    assert stock.score == pytest.approx(fast.score)


def test_lime_reports_progress_two_columns_and_can_be_cancelled(tiny_classifier, model_input):
    seen = []
    result = lime_explanation(tiny_classifier, model_input, num_samples=60, batch_size=20,
                              num_features=4, progress=lambda done, total: seen.append(done))
    assert seen == [20, 40, 60]
    assert len(result.top_segments) == 4 and result.heatmap().shape == (224, 224)
    pneumonia, normal = result.masks()
    assert not (pneumonia & normal).any()

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExplanationCancelled):
        lime_explanation(tiny_classifier, model_input, num_samples=60, cancel=cancel)


def test_gradcam_is_not_blank_for_a_confident_film():
    """A map taken through the saturated sigmoid of a film called PNEUMONIA with P ~ 1 came
    out empty. The most confident of the first 40 test pneumonias is such a film, whichever
    model is bundled."""
    from pneumo_desktop.core.imaging import load_image
    from pneumo_desktop.core.model import Classifier
    from tests.conftest import MODELS_DIR, real_data_dir

    films = sorted((real_data_dir() / "test" / "PNEUMONIA").glob("*.jpeg"))[:40]
    classifier = Classifier(MODELS_DIR)
    inputs = np.stack([classifier.prepare(load_image(film)) for film in films])
    probabilities = classifier.predict_batch(inputs)
    model_input = inputs[int(np.argmax(probabilities))]
    assert classifier.classify(model_input).probability > 0.9999
    cam = gradcam(classifier, model_input)
    assert cam.max() > 0.9 and (cam > 0.2).mean() > 0.02  # bilinear upsampling softens the peak
