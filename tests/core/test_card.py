"""The model card is a validated contract: the app refuses a card that breaks the schema and
says which field, and reads valid ones through typed accessors."""

import json
import shutil

import pytest

from pneumo_desktop.cli import EXIT_MODEL, scan_main
from pneumo_desktop.core.card import (
    CARD_SCHEMA,
    ModelCard,
    Point,
    card_path,
    schema_path,
)
from pneumo_desktop.core.comparison import load_comparison
from pneumo_desktop.core.model import Classifier, ModelError
from tests.cards import REMOVE, card_data, set_field, write_card
from tests.conftest import MODELS_DIR


def test_the_bundled_card_is_valid_and_typed():
    card = ModelCard.load(card_path(MODELS_DIR, "cnn_deep_aug"))
    assert json.loads(schema_path().read_text())["properties"]["card_schema"] == {
        "const": CARD_SCHEMA}
    assert card.name == "cnn_deep_aug" and card.input_spec.size == 224
    assert card.input_spec.equalize and card.input_spec.channels == 1
    test = card.metrics("test", Point.OPERATING)
    assert test.n == 624 == card.counts("test").total
    assert test.confusion.tp + test.confusion.fn == card.counts("test").bacteria + card.counts(
        "test").virus
    # The likely band is the high-specificity end: chosen on validation, never below the
    # operating threshold, with validation specificity at the target.
    assert card.likely_threshold >= card.threshold
    validation_likely = card.metrics("validation", Point.LIKELY)
    assert validation_likely.threshold == card.likely_threshold
    assert validation_likely.specificity >= 0.99
    assert card.changelog[-1].version == card.version
    assert card.heads is not None and card.heads.path.is_file()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("threshold.value", "high", "threshold.value must be a number"),
        ("threshold.likely", REMOVE, "threshold.likely is missing"),
        ("sha256", REMOVE, "sha256 is missing"),
        ("sha256", "not-a-hash",
         "sha256 is malformed ('not-a-hash' does not match ^[0-9a-f]{64}$)"),
        ("metrics.test.at_operating_threshold.n", "624",
         "metrics.test.at_operating_threshold.n must be an integer"),
        ("input.channels", 2, "input.channels must be one of 1, 3"),
        ("threshold.value", 1.5, "threshold.value must be at most 1"),
        ("card_schema", REMOVE, "card_schema is missing"),
        ("changelog", [], "changelog must not be empty"),
    ],
)
def test_a_corrupt_card_is_refused_naming_the_field(tmp_path, field, value, message):
    path = write_card(tmp_path, set_field(card_data(), field, value))
    with pytest.raises(ModelError) as refused:
        ModelCard.load(path)
    assert str(refused.value) == f"model card {path}: {message}"


def test_a_card_newer_than_the_app_asks_for_an_update(tmp_path):
    path = write_card(tmp_path, card_data(card_schema=CARD_SCHEMA + 1))
    with pytest.raises(ModelError, match="newer than this application reads.*update"):
        ModelCard.load(path)


def test_unreadable_and_missing_cards(tmp_path):
    (tmp_path / "broken.card.json").write_text("{not json")
    with pytest.raises(ModelError, match="is unreadable"):
        ModelCard.load(tmp_path / "broken.card.json")
    (tmp_path / "list.card.json").write_text("[]")
    with pytest.raises(ModelError, match="not a JSON object"):
        ModelCard.load(tmp_path / "list.card.json")
    with pytest.raises(ModelError, match="model card not found"):
        ModelCard.load(tmp_path / "none.card.json")


def test_accessors_return_the_card_s_values(tmp_path):
    card = ModelCard.load(write_card(tmp_path, card_data()))
    assert card.thresholds.operating == card.threshold == 0.123456
    assert card.thresholds.likely == card.likely_threshold == 0.8
    assert card.metrics("test", Point.LIKELY).threshold == 0.8
    assert card.counts("train").patients == 4
    assert card.split.method == "patient" and card.split.seed == 7
    assert card.training.epochs_run == 3 and card.training.device == "CPU"
    assert card.plot_path("roc") == tmp_path / "handmade.roc.png"
    assert card.model_path == tmp_path / "handmade.keras"
    assert card.heads is None and card.onnx is None and card.stress_rows == ()
    assert card.citation.endswith("CC BY 4.0.")


def test_comparison_is_read_typed_or_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_comparison(tmp_path)
    (tmp_path / "comparison.json").write_text(json.dumps({"models": [{"model": "a"}]}))
    assert load_comparison(tmp_path).rows[0].model == "a"
    (tmp_path / "comparison.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="KeyError"):
        load_comparison(tmp_path)


@pytest.fixture
def corrupt_models_dir(tiny_models_dir, tmp_path):
    corrupt = tmp_path / "models"
    shutil.copytree(tiny_models_dir, corrupt)
    path = corrupt / "cnn_deep_aug.card.json"
    card = json.loads(path.read_text())
    del card["metrics"]["test"]["at_operating_threshold"]["specificity"]
    path.write_text(json.dumps(card))
    return corrupt


def test_the_classifier_refuses_a_corrupt_card(corrupt_models_dir):
    with pytest.raises(ModelError, match="at_operating_threshold.specificity is missing"):
        Classifier(corrupt_models_dir)


def test_pneumo_scan_exits_3_naming_the_field(corrupt_models_dir, tmp_path, capsys):
    films = tmp_path / "films"
    films.mkdir()
    code = scan_main([str(films), "--out", str(tmp_path / "out.csv"),
                      "--models-dir", str(corrupt_models_dir)])
    assert code == EXIT_MODEL == 3
    assert "metrics.test.at_operating_threshold.specificity is missing" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
