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
from pneumo_desktop.core.model import ModelCard
from pneumo_desktop.ui.about_tab import INTENDED_USE, AboutTab, format_metric, format_rate

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
    """A small card in the training package's format, with awkward values to format."""
    op = {
        "threshold": 0.123456, "n": 624, "accuracy": 0.9, "sensitivity": 0.98712,
        "specificity": float("nan"), "precision": 0.5, "f1": 0.66, "roc_auc": None,
        "confusion_matrix": {"tn": 7, "fp": 3, "fn": 1, "tp": 20}, "recall_bacteria": 1.0,
    }
    card = {
        "name": "handmade", "version": "2.3.4", "created": "2024-05-06T07:08:09+00:00",
        "model_file": "handmade.keras", "sha256": "ab" * 32, "parameters": 1234567,
        "input": {"height": 224, "width": 224, "channels": 1, "color": "grayscale"},
        "threshold": {"value": 0.123456, "rule": "by hand", "chosen_on": "validation"},
        "data": {"split": "patient", "split_seed": 7, "validation_fraction": 0.1,
                 "train": {"total": 10, "patients": 4, "normal": 3, "bacteria": 5, "virus": 2}},
        "training": {"seconds": 90.0, "epochs_run": 3, "best_epoch": 2, "device": "CPU"},
        "metrics": {"test": {"at_operating_threshold": op, "at_0.5": {**op, "roc_auc": 0.95}}},
        "libraries": {"keras": "3.0"},
        "intended_use": "Card's own intended use.",
        **changes,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "handmade.card.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    return ModelCard.load(path)


def test_formatting_rules():
    assert format_rate(0.98712) == "98.7 %"
    assert format_metric("roc_auc", 0.95) == "0.950"
    assert format_metric("specificity", float("nan")) == "—"
    assert format_metric("roc_auc", None) == "—"
    assert format_metric("epochs", 12) == "12"


def test_tiny_card_numbers_are_shown_formatted(qtbot, tiny_models_dir):
    card = ModelCard.load(tiny_models_dir / TINY_CARD)
    tab = make_tab(qtbot, card, tiny_models_dir)
    test = card.data["metrics"]["test"]
    op, at05 = test["at_operating_threshold"], test["at_0.5"]
    assert label(tab, "metric_sensitivity").text() == format_rate(op["sensitivity"])
    assert label(tab, "metric_specificity").text() == format_rate(op["specificity"])
    assert label(tab, "metric_roc_auc").text() == format_metric("roc_auc", op["roc_auc"])
    assert label(tab, "metric_at05_sensitivity").text() == format_rate(at05["sensitivity"])
    validation = card.data["metrics"]["validation"]["at_operating_threshold"]
    assert label(tab, "metric_val_accuracy").text() == format_rate(validation["accuracy"])
    for key, count in op["confusion_matrix"].items():
        assert label(tab, f"cm_{key}").text() == f"{key.upper()}\n{count}"
    assert label(tab, "threshold_value").text() == f"{card.threshold:.4f}"
    assert label(tab, "threshold_rule").text() == card.data["threshold"]["rule"]
    assert label(tab, "data_test_total").text() == str(card.data["data"]["test"]["total"])
    assert label(tab, "model_sha256").toolTip() == card.data["sha256"]
    assert label(tab, "intended_use").text() == card.data["intended_use"]
    assert label(tab, "app_version").text().endswith(__version__)
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
    roc = card.data["plots"]["roc"]
    shutil.copy(tiny_models_dir / roc, tmp_path / roc)
    tab = make_tab(qtbot, card, tmp_path)
    assert not label(tab, "plot_roc").pixmap().isNull()
    missing = card.data["plots"]["learning_curves"]
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
    assert label(tab, "no_card").text() == f"No model card found in {tmp_path}"
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
    assert label(tab, "metric_val_sensitivity").text() == "—"  # no validation metrics
    assert label(tab, "model_sha256").text() == "ab" * 8 + "…"
    assert label(tab, "model_parameters").text() == "1,234,567"
    assert label(tab, "training_when").text() == "2024-05-06 07:08 UTC (1.5 min)"
    assert label(tab, "data_train_patients").text() == "4"
    assert "by patient" in label(tab, "data_split").text()
    assert "seed 7" in label(tab, "data_split").text()
    assert label(tab, "intended_use").text() == "Card's own intended use."
    assert label(tab, "plot_roc").text() == "plot not found: handmade.roc.png"


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
