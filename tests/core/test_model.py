import json
import shutil

import numpy as np
import pytest

from pneumo_desktop.core.model import Classifier, ModelChecksumError, ModelError
from tests.conftest import MODELS_DIR


def test_classifier_predicts_probabilities_in_batches(tiny_classifier):
    images = np.random.default_rng(0).uniform(0, 255, (5, 224, 224, 1)).astype(np.float32)
    probabilities = tiny_classifier.predict_batch(images)
    assert probabilities.shape == (5,)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    one_by_one = [tiny_classifier.predict_batch(image[None])[0] for image in images]
    np.testing.assert_allclose(probabilities, one_by_one, atol=1e-5)


def test_label_follows_the_card_threshold(tiny_classifier):
    threshold = tiny_classifier.threshold
    assert tiny_classifier.operating_point.verdict(threshold) == "PNEUMONIA"
    assert tiny_classifier.operating_point.verdict(np.nextafter(threshold, 0)) == "NORMAL"


def test_device_is_reported(tiny_classifier):
    assert tiny_classifier.device == "CPU" or tiny_classifier.device.startswith("GPU: ")


def test_model_file_that_does_not_match_its_card_is_refused(tiny_models_dir, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(tiny_models_dir, copy)
    with open(copy / "cnn_deep_aug.keras", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelChecksumError, match="does not match its model card"):
        Classifier(copy)


def test_missing_card_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="model card not found"):
        Classifier(tmp_path)


def test_bundled_card_matches_the_committed_model():
    card_path = MODELS_DIR / "cnn_deep_aug.card.json"
    if not card_path.exists():
        pytest.fail("models/cnn_deep_aug.card.json is missing: the bundled model is not committed")
    card = json.loads(card_path.read_text())
    classifier = Classifier(MODELS_DIR)  # verifies the sha256
    assert classifier.card.name == card["name"] == "cnn_deep_aug"
    assert classifier.model.input_shape[1:] == (
        card["input"]["height"],
        card["input"]["width"],
        card["input"]["channels"],
    )
    test = card["metrics"]["test"]["at_operating_threshold"]
    assert test["n"] == 624


@pytest.mark.parametrize(("size", "suffix"), [((224, 224), ".jpeg"), ((300, 410), ".png")])
def test_app_preprocessing_matches_training(tmp_path, tiny_classifier, size, suffix):
    """The app feeds the model exactly the pixels the training pipeline fed it."""
    from PIL import Image

    from pneumo_desktop.core.imaging import load_image
    from tests.conftest import synthetic_xray
    from training.data import pillow_equalized

    assert tiny_classifier.card.input_spec.equalize
    pixels = synthetic_xray(np.random.default_rng(4), True, size=max(size))[: size[1], : size[0]]
    path = tmp_path / f"film{suffix}"
    Image.fromarray(pixels).convert("RGB").save(path)
    app_input = tiny_classifier.prepare(load_image(path, min_side=224))
    np.testing.assert_array_equal(app_input, pillow_equalized(str(path).encode()))
    assert app_input.shape == (224, 224, 1) and app_input.max() == 255
