"""The About tab: intended use, the model card, test metrics, plots and the model comparison.

Everything shown comes from files the training package wrote beside the model (the card,
its plot PNGs, ``comparison.json``); nothing here imports TensorFlow, so the tab builds at once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop import __version__
from pneumo_desktop.core.model import ModelCard

INTENDED_USE = (
    "Decision support for a radiologist screening paediatric chest X-rays for pneumonia. "
    "Not a diagnosis: every film is read by the radiologist, who makes the call."
)
LIMITS = (
    "Limits: trained on one hospital's paediatric films (Guangzhou); not validated for adults, "
    "other hospitals' machines, or other diseases."
)
DATASET_CITATION = (
    "Kermany D, Zhang K, Goldbaum M, et al. Identifying medical diagnoses and treatable "
    "diseases by image-based deep learning. Cell 172(5):1122-1131, 2018; Mendeley Data, "
    "doi:10.17632/rscbjbr9sj.2; licence CC BY 4.0."
)
#: Card metric key -> row title, in display order.
METRICS = {"threshold": "Threshold", "n": "Images", "accuracy": "Accuracy",
           "sensitivity": "Sensitivity", "specificity": "Specificity", "precision": "Precision",
           "f1": "F1", "roc_auc": "ROC AUC", "recall_bacteria": "Recall, bacterial",
           "recall_virus": "Recall, viral"}
#: (split, operating point, column title, objectName prefix)
METRIC_COLUMNS = (
    ("test", "at_operating_threshold", "Test<br>operating threshold", "metric_"),
    ("test", "at_0.5", "Test<br>threshold 0.5", "metric_at05_"),
    ("validation", "at_operating_threshold", "Validation<br>operating threshold", "metric_val_"),
    ("validation", "at_0.5", "Validation<br>threshold 0.5", "metric_val_at05_"),
)
DATA_COLUMNS = (("total", "Images"), ("patients", "Patients"), ("normal", "Normal"),
                ("bacteria", "Bacterial"), ("virus", "Viral"))
PLOTS = (("roc", "ROC curve (test)", 420), ("confusion_matrix", "Confusion matrix (test)", 420),
         ("learning_curves", "Learning curves", 840))
COMPARISON_COLUMNS = (
    ("model", "Model"), ("split", "Split"), ("threshold", "Threshold"),
    ("threshold_rule", "Chosen on"), ("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"), ("precision", "Precision"), ("f1", "F1"),
    ("roc_auc", "ROC AUC"), ("stress_specificity", "Stress spec."),
    ("train_minutes", "Train min"), ("epochs", "Epochs"),
)
RATES = {"accuracy", "sensitivity", "specificity", "precision", "f1",
         "recall_bacteria", "recall_virus", "stress_specificity"}
MISSING = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_rate(value) -> str:
    """0.9871 -> "98.7 %"; a missing or NaN rate -> "—"."""
    return MISSING if _missing(value) else f"{100 * float(value):.1f} %"


def format_metric(key: str, value) -> str:
    """One metric as shown: rates as percentages, AUC as 0.000, the threshold as 0.0000."""
    if _missing(value):
        return MISSING
    if key in RATES:
        return format_rate(value)
    if key == "roc_auc":
        return f"{float(value):.3f}"
    if key == "threshold":
        return f"{float(value):.4f}"
    return str(value)


def _label(text: str, name: str = "", tooltip: str = "", wrap: bool = False) -> QLabel:
    """A selectable plain-text label; only long prose wraps (a wrapped "98.7 %" could break)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    if tooltip:
        label.setToolTip(tooltip)
    return label


def _trained_at(created: str) -> str:
    try:
        return dt.datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M %Z").strip()
    except (TypeError, ValueError):
        return str(created or MISSING)


class AboutTab(QWidget):
    """Shows one model card (or says there is none) plus the comparison of all models."""

    def __init__(self, card: ModelCard | None, models_dir: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self._models_dir = Path(models_dir)
        self._card: ModelCard | None = None
        self._scroll = QScrollArea(self)
        self._scroll.setObjectName("about_scroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)
        self.set_card(card)

    @property
    def card(self) -> ModelCard | None:
        return self._card

    @property
    def models_dir(self) -> Path:
        return self._models_dir

    def set_card(self, card: ModelCard | None) -> None:
        """Rebuild the whole page for ``card`` (None: say that no card was found)."""
        self._card = card
        content = QWidget()
        content.setObjectName("about_content")
        column = QVBoxLayout(content)
        column.setContentsMargins(16, 16, 16, 16)
        column.setSpacing(14)
        column.addWidget(self._intended_use_box(card))
        if card is None:
            text = f"No model card found in {self._models_dir}"
            column.addWidget(_label(text, "no_card", wrap=True))
        else:
            data = card.data
            for box in (self._model_box(card), self._threshold_box(data),
                        self._metrics_box(data), self._stress_box(data), self._data_box(data),
                        self._plots_box(card)):
                if box is not None:
                    column.addWidget(box)
        column.addWidget(self._comparison_box(card))
        column.addWidget(self._citation_box(card))
        column.addStretch(1)
        self._scroll.setWidget(content)  # the previous page is deleted with its widgets

    def _intended_use_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("Intended use")
        layout = QVBoxLayout(box)
        text = (card.data.get("intended_use") if card else None) or INTENDED_USE
        statement = _label(text, "intended_use", wrap=True)
        font = statement.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        statement.setFont(font)
        layout.addWidget(statement)
        layout.addWidget(_label(LIMITS, "limits", wrap=True))
        return box

    def _model_box(self, card: ModelCard) -> QGroupBox:
        data, training = card.data, card.data.get("training", {})
        box = QGroupBox("Model")
        form = QFormLayout(box)
        sha = str(data.get("sha256", ""))
        inputs = data.get("input", {})
        minutes = training.get("seconds")
        trained = _trained_at(data.get("created", ""))
        if minutes is not None:
            trained += f" ({float(minutes) / 60:.1f} min)"
        libraries = ", ".join(f"{k} {v}" for k, v in data.get("libraries", {}).items())
        parameters = data.get("parameters")
        rows = (
            ("Name", card.name, "model_name", ""),
            ("Version", card.version, "model_version", ""),
            ("Created", str(data.get("created", MISSING))[:10], "model_created", ""),
            ("Parameters", f"{parameters:,}" if parameters else MISSING, "model_parameters", ""),
            ("SHA-256", f"{sha[:16]}…" if sha else MISSING, "model_sha256", sha),
            ("Input", f"{inputs.get('height')}×{inputs.get('width')} px, "
             f"{inputs.get('color', '')}", "model_input", inputs.get("preprocessing", "")),
            ("Trained", trained, "training_when", ""),
            ("Device", str(training.get("device", MISSING)), "training_device", ""),
            ("Epochs", f"{training.get('epochs_run', MISSING)} run, best "
             f"{training.get('best_epoch', MISSING)}", "training_epochs", ""),
            ("Libraries", libraries or MISSING, "libraries", ""),
        )
        for title, text, name, tooltip in rows:
            form.addRow(title + ":", _label(text, name, tooltip, wrap=name == "libraries"))
        return box

    def _threshold_box(self, data: dict) -> QGroupBox:
        threshold = data.get("threshold", {})
        box = QGroupBox("Operating threshold")
        form = QFormLayout(box)
        form.addRow("Value:", _label(format_metric("threshold", threshold.get("value")),
                                     "threshold_value"))
        form.addRow("Chosen by:", _label(str(threshold.get("rule", MISSING)), "threshold_rule",
                                            wrap=True))
        decision = data.get("output", {}).get("decision")
        if decision:
            form.addRow("Decision:", _label(decision, "threshold_decision"))
        return box

    def _metrics_box(self, data: dict) -> QGroupBox:
        metrics = data.get("metrics", {})
        box = QGroupBox("Metrics")
        layout = QVBoxLayout(box)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, (split, point, title, prefix) in enumerate(METRIC_COLUMNS, start=1):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
            values = metrics.get(split, {}).get(point, {})
            for row, key in enumerate(METRICS, start=1):
                grid.addWidget(_label(format_metric(key, values.get(key)), prefix + key), row, col)
        for row, title in enumerate(METRICS.values(), start=1):
            grid.addWidget(QLabel(title), row, 0)
        grid.setColumnStretch(len(METRIC_COLUMNS) + 1, 1)
        layout.addLayout(grid)
        layout.addSpacing(12)
        layout.addLayout(self._confusion_grid(metrics))
        return box

    def _confusion_grid(self, metrics: dict) -> QGridLayout:
        matrix = metrics.get("test", {}).get("at_operating_threshold", {}).get(
            "confusion_matrix", {})
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Test confusion matrix at the operating threshold</b>"), 0, 0,
                       1, 4)
        grid.addWidget(QLabel("called NORMAL"), 1, 1, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(QLabel("called PNEUMONIA"), 1, 2, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(QLabel("truly NORMAL"), 2, 0)
        grid.addWidget(QLabel("truly PNEUMONIA"), 3, 0)
        cells = (("tn", "true negatives", 2, 1), ("fp", "false positives", 2, 2),
                 ("fn", "false negatives (missed pneumonia)", 3, 1),
                 ("tp", "true positives", 3, 2))
        for key, meaning, row, col in cells:
            cell = _label(f"{key.upper()}\n{matrix.get(key, MISSING)}", f"cm_{key}", meaning)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setFrameShape(QFrame.Shape.Box)
            cell.setMinimumSize(120, 56)
            grid.addWidget(cell, row, col)
        grid.setColumnStretch(3, 1)
        return grid

    def _stress_box(self, data: dict) -> QGroupBox | None:
        """How the threshold's calls move when the validation films are re-rendered as another
        machine might take them (``python -m training stress --card``); None without a report."""
        stress = data.get("stress")
        if not isinstance(stress, dict) or not isinstance(stress.get("shifts"), dict):
            return None
        box = QGroupBox("Robustness to how a film was taken (validation films, re-rendered)")
        layout = QVBoxLayout(box)
        layout.addWidget(_label(
            f"The {stress.get('validation_images', MISSING)} validation films, changed as another "
            "X-ray machine or export might change them, at the operating threshold. A model that "
            "reads the lungs barely moves; large swings mean it also reads how the film was "
            "taken, and films from other machines will be called less reliably.",
            "stress_intro", wrap=True))
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, title in enumerate(("Change", "Normals flagged", "Pneumonias caught")):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for row, (name, values) in enumerate(stress["shifts"].items(), start=1):
            values = values if isinstance(values, dict) else {}
            grid.addWidget(QLabel(str(name)), row, 0)
            for col, key in enumerate(("normals_flagged", "pneumonia_caught"), start=1):
                text = format_rate(values.get(key))
                grid.addWidget(_label(text, f"stress_{row}_{key}"), row, col)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)
        return box

    def _data_box(self, data: dict) -> QGroupBox:
        info = data.get("data", {})
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, (_, title) in enumerate(DATA_COLUMNS, start=1):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for row, split in enumerate(("train", "validation", "test"), start=1):
            grid.addWidget(QLabel(split.capitalize()), row, 0)
            counts = info.get(split, {})
            for col, (key, _) in enumerate(DATA_COLUMNS, start=1):
                text = str(counts.get(key, MISSING))
                grid.addWidget(_label(text, f"data_{split}_{key}"), row, col)
        grid.setColumnStretch(len(DATA_COLUMNS) + 1, 1)
        layout.addLayout(grid)
        split = info.get("split", MISSING)
        how = {"patient": "by patient: no child's films fall on both sides",
               "patient_earliest": "by patient, the earliest patient numbers (a hold-out in "
                                   "acquisition time): no child's films fall on both sides",
               "patient_earliest_series": "by patient, the earliest patient numbers of each "
                                          "subtype and of each normal series (IM, NORMAL2): "
                                          "no child's films fall on both sides",
               "image": "by image: a child's films can fall on both sides"}.get(split, split)
        # The earliest-patients hold-out draws nothing at random: no seed to show.
        seed = ("" if split.startswith("patient_earliest")
                else f", seed {info.get('split_seed', MISSING)}")
        text = (f"Validation carved out of train {how}; "
                f"{format_rate(info.get('validation_fraction'))} of the patients{seed}.")
        layout.addWidget(_label(text, "data_split", wrap=True))
        return box

    def _plots_box(self, card: ModelCard) -> QGroupBox:
        names = card.data.get("plots", {})
        box = QGroupBox("Plots")
        grid = QGridLayout(box)
        for index, (kind, title, width) in enumerate(PLOTS):
            name = names.get(kind) or f"{card.name}.{kind}.png"
            pixmap = QPixmap(str(card.path.parent / name))
            image = _label("", f"plot_{kind}", title)
            if pixmap.isNull():
                image.setText(f"plot not found: {name}")
            else:
                if pixmap.width() > width:
                    pixmap = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
                image.setPixmap(pixmap)
            panel = QVBoxLayout()
            panel.addWidget(QLabel(f"<b>{title}</b>"))
            panel.addWidget(image)
            panel.addStretch(1)
            grid.addLayout(panel, index // 2, index % 2, 1, 1 + index // 2)
        grid.setColumnStretch(2, 1)
        return box

    def _comparison_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("All trained models (test set, each at its own operating threshold)")
        layout = QVBoxLayout(box)
        path = self._models_dir / "comparison.json"
        try:
            comparison = json.loads(path.read_text(encoding="utf-8"))
            rows = [row for row in comparison["models"] if isinstance(row, dict)]
            notes = [str(note) for note in comparison.get("notes", [])]
        except FileNotFoundError:
            layout.addWidget(_label(f"No model comparison: {path} not found.",
                                    "comparison_missing", wrap=True))
            return box
        except (OSError, ValueError, KeyError, TypeError) as error:
            layout.addWidget(_label(f"Model comparison {path} is unreadable: {error}",
                                    "comparison_missing", wrap=True))
            return box
        table = QTableWidget(len(rows), len(COMPARISON_COLUMNS))
        table.setObjectName("comparison_table")
        table.setHorizontalHeaderLabels([title for _, title in COMPARISON_COLUMNS])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, model in enumerate(rows):
            for col, (key, _) in enumerate(COMPARISON_COLUMNS):
                item = QTableWidgetItem(format_metric(key, model.get(key)))
                if card is not None and model.get("model") == card.name:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("the model this application uses")
                table.setItem(row, col, item)
        table.resizeColumnsToContents()
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        height = (table.horizontalHeader().sizeHint().height() + table.verticalHeader().length()
                  + 2 * table.frameWidth() + table.horizontalScrollBar().sizeHint().height())
        table.setFixedHeight(height)
        layout.addWidget(table)
        if notes:
            layout.addWidget(_label("\n".join(f"• {note}" for note in notes), "comparison_notes",
                                    wrap=True))
        return box

    def _citation_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("Data set and application")
        layout = QVBoxLayout(box)
        citation = (card.data.get("dataset_citation") if card else None) or DATASET_CITATION
        layout.addWidget(_label(citation, "citation", wrap=True))
        layout.addWidget(_label(f"pneumo_desktop {__version__}", "app_version"))
        return box
