import json
import shutil

import numpy as np
import pytest

from pneumo_desktop.core.model import Classifier, ModelChecksumError
from pneumo_desktop.core.results import Status, Verdict
from training.card import validate
from training.config import config_for
from training.data import pillow_equalized
from training.heads import fit_heads


@pytest.fixture(scope="module")
def models_with_heads(tiny_models_dir, tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("heads") / "models"
    shutil.copytree(tiny_models_dir, out)
    fit_heads(out, "cnn_deep_aug", config_for("cnn_deep_aug", data_dir=tiny_data_dir),
              log=lambda message: None)
    return out


def test_heads_are_written_with_checksum_rule_and_metrics(models_with_heads):
    card = json.loads((models_with_heads / "cnn_deep_aug.card.json").read_text())
    heads = card["heads"]
    assert (models_with_heads / heads["file"]).is_file()
    assert heads["not_xray"]["threshold"] > 0
    assert set(heads["not_xray"]["xrays_refused"]) == {"train", "validation", "test"}
    for split in ("validation", "test"):
        metrics = heads["subtype"][split]
        assert metrics["bacteria"] + metrics["virus"] == metrics["n"] > 0
        assert 0.0 <= metrics["accuracy"] <= 1.0
    validate(card)  # written through training/card.py: the app will accept it


def test_classifier_uses_the_heads_on_the_graph_s_features(models_with_heads, tiny_data_dir):
    """The app's numpy heads over onnxruntime's features give what training's heads give over
    Keras' features: the same distances and P(virus) for the same films."""
    import keras

    from training.heads import build_feature_model, mahalanobis, subtype_probability

    classifier = Classifier(models_with_heads)
    assert classifier.heads is not None and classifier.ood_threshold > 0
    films = np.stack([pillow_equalized(path) for path in
                      sorted((tiny_data_dir / "test" / "PNEUMONIA").glob("*.jpeg"))[:4]])
    model = keras.models.load_model(models_with_heads / "cnn_deep_aug.keras", compile=False)
    features = np.asarray(build_feature_model(model)(films, training=False), np.float64)
    arrays = np.load(models_with_heads / "cnn_deep_aug.heads.npz")
    distances = mahalanobis(features, arrays["ood_mean"], arrays["ood_precision"])
    virus = subtype_probability(features, arrays["subtype_coef"],
                                float(arrays["subtype_intercept"]))
    predictions = classifier.classify_batch(films)
    np.testing.assert_allclose([p.ood_distance for p in predictions], distances, rtol=1e-4)
    for prediction, p_virus, distance in zip(predictions, virus, distances, strict=True):
        assert prediction.status is (Status.OK if distance <= classifier.ood_threshold
                                     else Status.NOT_XRAY)
        if prediction.verdict is Verdict.PNEUMONIA:
            assert prediction.subtype_probability == pytest.approx(p_virus, abs=1e-4)
            assert prediction.subtype == ("virus" if p_virus >= 0.5 else "bacteria")
        else:
            assert prediction.subtype is None and prediction.subtype_probability is None


def test_a_blank_image_is_not_an_xray(models_with_heads):
    classifier = Classifier(models_with_heads)
    blank = np.full((224, 224, 1), 255.0, dtype=np.float32)
    assert classifier.classify(blank).status is Status.NOT_XRAY


def test_tampered_heads_file_is_refused(models_with_heads, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(models_with_heads, copy)
    with open(copy / "cnn_deep_aug.heads.npz", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelChecksumError):
        Classifier(copy)
