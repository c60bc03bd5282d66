import json

import pytest

from training.__main__ import main as training_main
from training.compare import write_comparison
from training.config import config_for
from training.io import sha256_of


def test_tiny_training_run_writes_model_card_and_plots(tiny_models_dir):
    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    model_file = tiny_models_dir / card["model_file"]
    assert card["sha256"] == sha256_of(model_file)
    assert card["input"]["height"] == 224 and card["input"]["channels"] == 1
    assert card["threshold"]["chosen_on"] == "validation"
    assert 0.0 <= card["threshold"]["value"] <= 1.0
    for split in ("validation", "test"):
        for point in ("at_0.5", "at_operating_threshold"):
            metrics = card["metrics"][split][point]
            assert set(metrics) >= {"accuracy", "sensitivity", "specificity", "precision", "f1"}
            counted = sum(metrics["confusion_matrix"].values())
            assert counted == card["data"][split]["total"]
    assert card["metrics"]["validation"]["at_operating_threshold"]["sensitivity"] >= 0.99
    assert card["training"]["epochs_run"] == 2
    assert {"tensorflow", "keras", "numpy"} <= set(card["libraries"])
    for plot in card["plots"].values():
        assert (tiny_models_dir / plot).stat().st_size > 1000
    history = json.loads((tiny_models_dir / "cnn_deep_aug.history.json").read_text())
    assert len(history["loss"]) == 2


def test_comparison_table_lists_trained_models(tiny_models_dir, tmp_path):
    rows = write_comparison(tiny_models_dir, notes=["xception: not trained"])
    assert [row["model"] for row in rows] == ["cnn_deep_aug"]
    markdown = (tiny_models_dir / "comparison.md").read_text()
    assert "| cnn_deep_aug |" in markdown and "xception: not trained" in markdown
    assert rows[0]["stress_specificity"] is None


def test_comparison_averages_the_stress_rows_of_a_card(tiny_models_dir, tmp_path):
    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    card["stress"] = {"validation_images": 10, "shifts": {
        "unchanged": {"normals_flagged": 0.1, "pneumonia_caught": 1.0},
        "zoomed in": {"normals_flagged": 0.5, "pneumonia_caught": 1.0},
    }}
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "stressed.card.json").write_text(json.dumps(card))
    rows = write_comparison(tmp_path)
    assert rows[0]["stress_specificity"] == pytest.approx(0.7)
    assert "| 0.700 |" in (tmp_path / "comparison.md").read_text()


@pytest.mark.parametrize("name", ["xception", "resnet101"])
def test_transfer_model_without_weights_stops_with_a_clear_message(
    name, tiny_data_dir, tmp_path, capsys
):
    code = training_main(
        ["train", "--model", name, "--data-dir", str(tiny_data_dir), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "needs ImageNet weights" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-trained was written


def test_notebook_recipe_is_kept_under_its_own_name():
    config = config_for("cnn_deep_aug_notebook")
    assert (config.split, config.class_weights, config.threshold_rule) == (
        "image",
        False,
        "fixed_0.5",
    )
    assert config.channels == 3 and config.working_size == 224
    assert config_for("cnn_deep_aug").split == "patient_earliest_series"
    assert config_for("cnn").split == "patient"


def test_unknown_model_name_is_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        config_for("vgg")
