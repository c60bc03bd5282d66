"""training/card.py: the card is built by one function, validated against the schema on every
write, updated section by section, and can be rebuilt for an existing model."""

import copy
import json
import shutil

import numpy as np
import pytest

from pneumo_desktop.core.card import ModelCard, Point
from training.__main__ import main as training_main
from training.card import (
    LIKELY_TARGET_SPECIFICITY,
    CardError,
    choose_likely_threshold,
    read_card,
    update_section,
    validate,
    write_card,
)
from training.registry import spec_for


def test_likely_threshold_is_the_lowest_with_target_specificity():
    rng = np.random.default_rng(0)
    normals, pneumonias = rng.uniform(0, 0.6, 300), rng.uniform(0.3, 1, 700)
    labels = np.r_[np.zeros(300), np.ones(700)]
    scores = np.r_[normals, pneumonias]
    likely = choose_likely_threshold(labels, scores, operating=0.1)
    flagged = normals >= likely
    assert flagged.sum() == 3  # floor(1% of 300) normals may stay above it
    assert 1 - flagged.mean() >= LIKELY_TARGET_SPECIFICITY
    # Any lower threshold that is still a normal's score flags one normal too many.
    lower = np.sort(normals)[-4]
    assert (normals >= lower).sum() == 4
    # Never below the operating threshold: a NORMAL call cannot be "likely".
    assert choose_likely_threshold(labels, scores, operating=0.99) == 0.99
    with pytest.raises(CardError, match="without normal films"):
        choose_likely_threshold(np.ones(3), np.ones(3), 0.5)


def test_the_trained_card_matches_the_schema_and_the_app_reads_it(tiny_models_dir):
    path = tiny_models_dir / "cnn_deep_aug.card.json"
    validate(read_card(path))
    card = ModelCard.load(path)
    validation = card.metrics("validation", Point.LIKELY)
    assert validation.specificity >= LIKELY_TARGET_SPECIFICITY
    assert card.likely_threshold >= card.threshold
    # A first card starts from the model's release history in the registry.
    history = [release.version for release in spec_for(card.name).changelog]
    assert [entry.version for entry in card.changelog] == history
    assert history[-1] == card.version


def test_an_invalid_card_is_never_written(tmp_path, tiny_models_dir):
    card = read_card(tiny_models_dir / "cnn_deep_aug.card.json")
    card["threshold"]["value"] = "0.5"
    with pytest.raises(CardError, match="at threshold.value: '0.5' is not of type 'number'"):
        write_card(tmp_path / "x.card.json", card)
    assert not (tmp_path / "x.card.json").exists()
    copy = tmp_path / "copy.card.json"
    shutil.copy(tiny_models_dir / "cnn_deep_aug.card.json", copy)
    with pytest.raises(CardError, match="at stress"):
        update_section(copy, "stress", {"shifts": {}})  # validation_images missing
    assert "stress" not in read_card(copy)


def test_rebuild_upgrades_an_old_card_without_moving_a_metric(tiny_models_dir, tiny_data_dir,
                                                              tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    path = models / "cnn_deep_aug.card.json"
    current = read_card(path)
    # The card as it was before card_schema 1: no schema marker, no likely threshold, no
    # metrics at it, no changelog.
    old = {key: copy.deepcopy(value) for key, value in current.items()
           if key not in ("card_schema", "changelog")}
    del old["threshold"]["likely"]
    for split in old["metrics"].values():
        del split["at_likely_threshold"]
    path.write_text(json.dumps(old))
    code = training_main(["card", "--model-file", str(models / "cnn_deep_aug.keras"),
                          "--data-dir", str(tiny_data_dir), "--changes", "tiny"])
    assert code == 0
    assert "every metric as the card had it" in capsys.readouterr().out
    rebuilt = read_card(path)
    validate(rebuilt)
    assert rebuilt["training"] == current["training"] and rebuilt["created"] == old["created"]
    assert rebuilt["metrics"] == current["metrics"]
    assert rebuilt["threshold"] == current["threshold"]
    assert rebuilt["changelog"][0]["changes"] == "tiny"


def test_rebuild_refuses_a_model_that_is_not_the_card_s(tiny_models_dir, tiny_data_dir, tmp_path,
                                                       capsys):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    with open(models / "cnn_deep_aug.keras", "ab") as handle:
        handle.write(b"other")
    code = training_main(["card", "--model-file", str(models / "cnn_deep_aug.keras"),
                          "--data-dir", str(tiny_data_dir)])
    assert code == 2 and "not the model the card describes" in capsys.readouterr().err
