"""The About tab shows the card's numbers, plots and the comparison, or says what is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QTableWidget, QWidget

from pneumo_desktop import __version__
from pneumo_desktop.core.card import ModelCard, Point
from pneumo_desktop.ui.about_tab import INTENDED_USE, AboutTab
from pneumo_desktop.ui.metric_text import format_metric, format_rate
from tests.cards import card_data, metrics, write_card

TINY_CARD = "cnn_deep_aug.card.json"


def label(tab: AboutTab, name: str) -> QLabel:
    found = tab.findChild(QLabel, name)
    assert found is not None, f"no label {name!r}"
    return found


def make_tab(qtbot, card: ModelCard | None, models_dir: Path) -> AboutTab:
    tab = AboutTab(card, models_dir)
    qtbot.addWidget(tab)
    return tab


def handmade_card(folder: Path, **changes) -> ModelCard:
    """A small valid card with awkward values to format: a NaN specificity, a missing AUC, no
    viral recall."""
    op = metrics(0.123456, specificity=float("nan"), roc_auc=None)
    del op["recall_virus"]
    test = {"at_operating_threshold": op, "at_0.5": metrics(0.5, roc_auc=0.95),
            "at_likely_threshold": metrics(0.8)}
    validation = {**test, "at_operating_threshold": metrics(0.123456, sensitivity=0.5)}
    data = card_data(metrics={"test": test, "validation": validation})
    data.update(changes)
    return ModelCard.load(write_card(folder, data))


def test_formatting_rules():
    assert format_rate(0.98712) == "98.7 %"
    assert format_metric("roc_auc", 0.95) == "0.950"
    assert format_metric("specificity", float("nan")) == "—"
    assert format_metric("roc_auc", None) == "—"
    assert format_metric("epochs", 12) == "12"


def test_tiny_card_numbers_are_shown_formatted(qtbot, tiny_models_dir):
    card = ModelCard.load(tiny_models_dir / TINY_CARD)
    tab = make_tab(qtbot, card, tiny_models_dir)
    op, at05 = card.metrics("test", Point.OPERATING), card.metrics("test", Point.AT_05)
    assert label(tab, "metric_sensitivity").text() == format_rate(op.sensitivity)
    assert label(tab, "metric_specificity").text() == format_rate(op.specificity)
    assert label(tab, "metric_roc_auc").text() == format_metric("roc_auc", op.roc_auc)
    assert label(tab, "metric_at05_sensitivity").text() == format_rate(at05.sensitivity)
    likely = card.metrics("test", Point.LIKELY)
    assert label(tab, "metric_likely_specificity").text() == format_rate(likely.specificity)
    validation = card.metrics("validation", Point.OPERATING)
    assert label(tab, "metric_val_accuracy").text() == format_rate(validation.accuracy)
    for key in ("tn", "fp", "fn", "tp"):
        assert label(tab, f"cm_{key}").text() == f"{key.upper()}\n{getattr(op.confusion, key)}"
    assert label(tab, "threshold_value").text() == f"{card.threshold:.4f}"
    assert label(tab, "threshold_rule").text() == card.thresholds.operating_rule
    assert label(tab, "likely_value").text() == f"{card.likely_threshold:.4f}"
    assert "specificity >= 0.99" in label(tab, "likely_rule").text()
    assert label(tab, "data_test_total").text() == str(card.counts("test").total)
    assert label(tab, "model_sha256").toolTip() == card.sha256
    assert label(tab, "intended_use").text() == card.intended_use
    assert label(tab, "app_version").text().endswith(__version__)
    assert card.version in label(tab, "changelog").text()
    # Readable at 1280x800: nothing forces a page wider than the window.
    tab.resize(1280, 800)
    assert tab.findChild(QWidget, "about_content").minimumSizeHint().width() <= 1100
    for kind in ("roc", "confusion_matrix", "learning_curves"):
        pixmap = label(tab, f"plot_{kind}").pixmap()
        assert not pixmap.isNull()
        assert pixmap.width() <= 840


def test_missing_plot_shows_its_name(qtbot, tiny_models_dir, tmp_path):
    shutil.copy(tiny_models_dir / TINY_CARD, tmp_path / TINY_CARD)
    card = ModelCard.load(tmp_path / TINY_CARD)
    roc = card.plot_path("roc").name
    shutil.copy(tiny_models_dir / roc, tmp_path / roc)
    tab = make_tab(qtbot, card, tmp_path)
    assert not label(tab, "plot_roc").pixmap().isNull()
    missing = card.plot_path("learning_curves").name
    assert label(tab, "plot_learning_curves").text() == f"plot not found: {missing}"


def test_comparison_table_has_a_row_per_model(qtbot, tmp_path):
    rows = [
        {"model": name, "split": "patient", "threshold": 0.2, "threshold_rule": "validation",
         "accuracy": 0.9, "sensitivity": sens, "specificity": 0.8, "precision": 0.85,
         "f1": 0.88, "roc_auc": 0.9567, "train_minutes": 12.5, "epochs": 20}
        for name, sens in (("handmade", 0.991), ("cnn", 0.95), ("ann", 0.9))
    ]
    notes = ["vgg16 not trained: no ImageNet weights offline"]
    (tmp_path / "comparison.json").write_text(json.dumps({"models": rows, "notes": notes}))
    tab = make_tab(qtbot, handmade_card(tmp_path), tmp_path)
    table = tab.findChild(QTableWidget, "comparison_table")
    assert table.rowCount() == 3
    assert [table.item(row, 0).text() for row in range(3)] == ["handmade", "cnn", "ann"]
    assert table.item(0, 5).text() == "99.1 %"  # sensitivity
    assert table.item(0, 9).text() == "0.957"  # ROC AUC
    assert table.item(0, 0).font().bold() and not table.item(1, 0).font().bold()
    assert notes[0] in label(tab, "comparison_notes").text()
    assert tab.findChild(QLabel, "comparison_missing") is None


def test_missing_comparison_is_said(qtbot, tmp_path):
    tab = make_tab(qtbot, handmade_card(tmp_path), tmp_path)
    assert tab.findChild(QTableWidget, "comparison_table") is None
    assert "comparison.json not found" in label(tab, "comparison_missing").text()


def test_no_card_says_so_and_keeps_intended_use(qtbot, tmp_path):
    tab = make_tab(qtbot, None, tmp_path)
    assert label(tab, "no_card").text() == f"No model loaded yet from {tmp_path}"
    assert label(tab, "intended_use").text() == INTENDED_USE
    assert "Guangzhou" in label(tab, "limits").text()
    assert "CC BY 4.0" in label(tab, "citation").text()
    assert tab.findChild(QLabel, "metric_sensitivity") is None


def test_handmade_card_values(qtbot, tmp_path):
    tab = make_tab(qtbot, handmade_card(tmp_path), tmp_path)
    assert label(tab, "metric_sensitivity").text() == "98.7 %"
    assert label(tab, "metric_specificity").text() == "—"  # NaN
    assert label(tab, "metric_roc_auc").text() == "—"  # None
    assert label(tab, "metric_at05_roc_auc").text() == "0.950"
    assert label(tab, "metric_recall_virus").text() == "—"  # absent
    assert label(tab, "metric_val_sensitivity").text() == "50.0 %"
    assert label(tab, "likely_value").text() == "0.8000"
    assert label(tab, "model_sha256").text() == "ab" * 8 + "…"
    assert label(tab, "model_parameters").text() == "1,234,567"
    assert label(tab, "training_when").text() == "2024-05-06 07:08 UTC (1.5 min)"
    assert label(tab, "data_train_patients").text() == "4"
    assert "by patient" in label(tab, "data_split").text()
    assert "seed 7" in label(tab, "data_split").text()
    assert label(tab, "intended_use").text() == "Card's own intended use."
    assert label(tab, "plot_roc").text() == "plot not found: handmade.roc.png"
    assert label(tab, "changelog").text() == "2.3.4 (2024-05-06): first"


def test_stress_report_is_shown_when_the_card_has_one(qtbot, tmp_path):
    plain = make_tab(qtbot, handmade_card(tmp_path / "plain"), tmp_path)
    assert plain.findChild(QLabel, "stress_intro") is None
    shifts = {"unchanged": {"normals_flagged": 0.063, "pneumonia_caught": 0.99},
              "zoomed in": {"normals_flagged": 0.675, "pneumonia_caught": None}}
    card = handmade_card(tmp_path / "stressed",
                         stress={"validation_images": 1000, "shifts": shifts})
    tab = make_tab(qtbot, card, tmp_path)
    assert "1000 validation films" in label(tab, "stress_intro").text()
    assert label(tab, "stress_1_normals_flagged").text() == "6.3 %"
    assert label(tab, "stress_2_normals_flagged").text() == "67.5 %"
    assert label(tab, "stress_2_pneumonia_caught").text() == "—"


def test_set_card_updates_the_page(qtbot, tmp_path):
    tab = make_tab(qtbot, None, tmp_path)
    first = handmade_card(tmp_path / "a")
    tab.set_card(first)
    assert tab.card is first
    assert tab.findChild(QLabel, "no_card") is None
    assert label(tab, "model_version").text() == "2.3.4"
    tab.set_card(handmade_card(tmp_path / "b", version="9.9.9"))
    assert label(tab, "model_version").text() == "9.9.9"
    assert len(tab.findChildren(QLabel, "model_version")) == 1
    tab.set_card(None)
    assert tab.findChild(QLabel, "model_version") is None
    assert label(tab, "no_card").isVisibleTo(tab)


@pytest.mark.parametrize("text", ["{not json", json.dumps({"rows": []})])
def test_unreadable_comparison_is_said(qtbot, tmp_path, text):
    (tmp_path / "comparison.json").write_text(text)
    tab = make_tab(qtbot, None, tmp_path)
    assert "unreadable" in label(tab, "comparison_missing").text()


def test_module_does_not_import_tensorflow():
    """The tab must build before TensorFlow has loaded: importing it must not pull TF in."""
    code = (
        "import sys, pneumo_desktop.ui.about_tab; "
        "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0


def test_a_refused_model_shows_the_reason_and_none_of_its_numbers(qtbot, tmp_path):
    row = {"model": "handmade", "split": "patient", "threshold": 0.2, "threshold_rule": "v",
           "accuracy": 0.9, "sensitivity": 0.9, "specificity": 0.8, "precision": 0.85,
           "f1": 0.88, "roc_auc": 0.95, "train_minutes": 1.0, "epochs": 2}
    (tmp_path / "comparison.json").write_text(json.dumps({"models": [row]}))
    tab = make_tab(qtbot, handmade_card(tmp_path), tmp_path)
    assert tab.findChild(QTableWidget, "comparison_table") is not None
    tab.show_refused("model card x.card.json: threshold.value must be a number")
    assert tab.card is None
    assert label(tab, "model_refused").text() == (
        "Model refused: model card x.card.json: threshold.value must be a number")
    for name in ("metric_sensitivity", "threshold_value", "model_sha256", "data_test_total",
                 "cm_tp", "no_card"):
        assert tab.findChild(QLabel, name) is None
    assert tab.findChild(QTableWidget, "comparison_table") is None  # it holds metrics too
    assert label(tab, "intended_use").text() == INTENDED_USE


def test_the_window_shows_the_verified_card_or_the_field_that_refused_it(
    qtbot, tiny_models_dir, tmp_path, monkeypatch
):
    from PySide6.QtCore import QSettings

    from pneumo_desktop.ui.main_window import MainWindow
    from pneumo_desktop.ui.preferences import Preferences

    monkeypatch.setattr("pneumo_desktop.ui.main_window.QMessageBox.critical",
                        lambda *args: None)
    settings = Preferences(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(tiny_models_dir, tmp_path / "results.sqlite3", settings)
    qtbot.addWidget(window)
    assert window.about_tab.card is None  # nothing is shown before the model is verified
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.start_loading_model()
    assert window.about_tab.card is window.classifier.card

    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_models_dir, corrupt)
    card = json.loads((corrupt / TINY_CARD).read_text())
    card["threshold"]["value"] = "high"
    (corrupt / TINY_CARD).write_text(json.dumps(card))
    window = MainWindow(corrupt, tmp_path / "results2.sqlite3", settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.modelFailed, timeout=120_000) as failed:
        window.start_loading_model()
    assert "threshold.value must be a number" in failed.args[0]
    refused = label(window.about_tab, "model_refused").text()
    assert refused.startswith("Model refused: model card ") and refused.endswith(
        "threshold.value must be a number")
    assert window.about_tab.findChild(QLabel, "metric_sensitivity") is None
