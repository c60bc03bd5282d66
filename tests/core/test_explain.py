import threading

import numpy as np
import pytest

from pneumo_desktop.core.explain import (
    ExplanationCancelled,
    _fast_explainer_class,
    feature_map_layers,
    feature_maps,
    gradcam,
    lime_explanation,
    pneumonia_logits,
    resize_bilinear,
)
from pneumo_desktop.core.model import Classifier
from tests.cards import card_data, write_card
from tests.conftest import MODELS_DIR, real_data_dir, synthetic_xray
from tests.synthetic_models import brightness_model, film_with_patch


@pytest.fixture
def model_input(tiny_classifier):
    return tiny_classifier.prepare(synthetic_xray(np.random.default_rng(2), True, size=224))


def tensorflow_gradcam(model_file, film: np.ndarray) -> np.ndarray:
    """The reference: Grad-CAM by TensorFlow's autodiff on the Keras model (how the app did it
    before it ran the ONNX graph)."""
    import keras
    import tensorflow as tf

    from training.export import graph_layers

    model = keras.models.load_model(model_file, compile=False)
    head = model.layers[-1]
    extractor = keras.Model(model.input, [graph_layers(model).gradcam_map.output, head.input])
    with tf.GradientTape() as tape:
        maps, penultimate = extractor(film[None], training=False)
        logit = tf.matmul(penultimate, head.kernel)[:, 0] + head.bias[0]
    weights = tf.reduce_mean(tape.gradient(logit, maps), axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[0].numpy()
    cam = cam / cam.max()
    return tf.image.resize(cam[..., None], film.shape[:2], method="bilinear").numpy()[..., 0]


def test_numpy_gradcam_over_the_graph_matches_tensorflow_s(tiny_classifier, tiny_models_dir):
    rng = np.random.default_rng(3)
    for pneumonia in (True, False):
        film = tiny_classifier.prepare(synthetic_xray(rng, pneumonia, size=300))
        cam = gradcam(tiny_classifier, film)
        assert cam.shape == (224, 224)
        reference = tensorflow_gradcam(tiny_models_dir / "cnn_deep_aug.keras", film)
        np.testing.assert_allclose(cam, reference, atol=5e-4)


def test_the_bundled_model_s_gradcam_matches_tensorflow_s_on_real_films():
    from pneumo_desktop.core.imaging import load_image

    classifier = Classifier(MODELS_DIR)
    for kind in ("NORMAL", "PNEUMONIA"):
        path = sorted((real_data_dir() / "test" / kind).glob("*.jpeg"))[3]
        film = classifier.prepare(load_image(path, min_side=224))
        reference = tensorflow_gradcam(MODELS_DIR / "cnn_deep_aug.keras", film)
        np.testing.assert_allclose(gradcam(classifier, film), reference, atol=5e-4)


def test_bilinear_resize_is_tensorflow_s():
    import tensorflow as tf

    image = np.random.default_rng(0).uniform(0, 1, (6, 5))
    expected = tf.image.resize(image[..., None], (224, 97), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(resize_bilinear(image, 224, 97), expected, atol=1e-6)


def synthetic_classifier(folder, box=None) -> Classifier:
    """The hand-weighted brightness model, exported and carded like a trained one."""
    from training.export import export_keras_model

    films = np.stack([film_with_patch((60, 170)), film_with_patch((150, 50))])
    section = export_keras_model(brightness_model(box), folder / "handmade.onnx", films)
    card = card_data(onnx={**section, "source_sha256": "ab" * 32})
    card["input"]["equalize"] = None
    write_card(folder, card)
    return Classifier(folder, name="handmade")


def peak(cam: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(cam), cam.shape))


def test_gradcam_peaks_where_the_synthetic_lesion_is(tmp_path):
    classifier = synthetic_classifier(tmp_path)
    for centre in ((60, 170), (150, 50), (190, 190)):
        cam = gradcam(classifier, film_with_patch(centre))
        assert np.hypot(*np.subtract(peak(cam), centre)) < 12, (centre, peak(cam))
        assert cam.max() > 0.99 and np.median(cam) < 0.5  # bilinear: the peak is softened


def test_gradcam_of_a_framing_model_is_placed_back_in_its_box(tmp_path):
    """The model looks only at the box [y0, x0, y1, x1] = [0.1, 0.5, 0.6, 1.0] of the film: its
    map is computed in that frame and must land there, and be 0 elsewhere."""
    classifier = synthetic_classifier(tmp_path, box=(0.1, 0.5, 0.6, 1.0))
    centre = (80, 170)  # inside the box: rows 22..134, columns 112..224
    cam = gradcam(classifier, film_with_patch(centre))
    assert np.hypot(*np.subtract(peak(cam), centre)) < 12, peak(cam)
    outside = np.ones_like(cam, dtype=bool)
    outside[22:134, 112:224] = False
    assert cam[outside].max() == 0.0 and cam[~outside].max() > 0.99


def test_feature_maps_of_every_convolution(tiny_classifier, model_input):
    names = feature_map_layers(tiny_classifier)
    assert names == ("conv1", "conv2", "conv3", "conv4", "conv5")
    first, last = (feature_maps(tiny_classifier, model_input, n) for n in (names[0], names[-1]))
    assert first.shape == (96, 96, 32) and last.shape == (6, 6, 256)
    assert first.min() >= 0.0  # the block output, after its ReLU
    with pytest.raises(KeyError, match="no feature maps for layer 'relu9'"):
        feature_maps(tiny_classifier, model_input, "relu9")


def test_logits_are_the_log_odds_of_the_probability(tiny_classifier):
    films = np.random.default_rng(1).uniform(0, 255, (4, 224, 224, 1)).astype(np.float32)
    logits = pneumonia_logits(tiny_classifier, films)
    probabilities = [p.probability for p in tiny_classifier.classify_batch(films)]
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probabilities, atol=1e-5)


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
    assert result.probability == pytest.approx(tiny_classifier.classify(model_input).probability)
    pneumonia, normal = result.masks()
    assert not (pneumonia & normal).any()

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExplanationCancelled):
        lime_explanation(tiny_classifier, model_input, num_samples=60, cancel=cancel)


def test_lime_credits_the_synthetic_lesion(tmp_path):
    """On the brightness model, hiding the bright patch lowers the log-odds most: the
    superpixel under the patch must get the largest weight for pneumonia."""
    classifier = synthetic_classifier(tmp_path)
    film = film_with_patch((100, 120), radius=20)
    result = lime_explanation(classifier, film, num_samples=300, num_features=3)
    top = result.top_segments[0]
    assert result.weights[top] > 0
    assert result.segments[100, 120] == top


def test_gradcam_is_not_blank_for_a_confident_film():
    """A map taken through the saturated sigmoid of a film called PNEUMONIA with P ~ 1 came
    out empty. The most confident of the first 40 test pneumonias is such a film, whichever
    model is bundled."""
    from pneumo_desktop.core.imaging import load_image

    films = sorted((real_data_dir() / "test" / "PNEUMONIA").glob("*.jpeg"))[:40]
    classifier = Classifier(MODELS_DIR)
    inputs = np.stack([classifier.prepare(load_image(film)) for film in films])
    probabilities = [p.probability for p in classifier.classify_batch(inputs)]
    model_input = inputs[int(np.argmax(probabilities))]
    assert classifier.classify(model_input).probability > 0.9999
    cam = gradcam(classifier, model_input)
    assert cam.max() > 0.9 and (cam > 0.2).mean() > 0.02  # bilinear upsampling softens the peak
