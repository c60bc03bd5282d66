import json
import shutil

import numpy as np
import pytest

from pneumo_desktop.core.model import Classifier, ModelChecksumError
from pneumo_desktop.core.results import Status, Verdict
from training.config import config_for
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


def test_classifier_uses_the_heads(models_with_heads):
    classifier = Classifier(models_with_heads)
    assert classifier.heads is not None and classifier.ood_threshold > 0
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 224, 224, 1)).astype(np.float32)
    analysis = classifier.analyse_batch(images)
    np.testing.assert_allclose(analysis.probabilities, classifier.predict_batch(images),
                               atol=1e-5)
    assert analysis.ood_distances.shape == (3,)
    assert np.all((analysis.virus_probabilities >= 0) & (analysis.virus_probabilities <= 1))
    prediction = classifier.classify_batch(images)[0]
    if prediction.status is Status.NOT_XRAY:
        assert prediction.subtype is None
    elif prediction.verdict is Verdict.PNEUMONIA:
        assert prediction.subtype in ("bacteria", "virus")


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
