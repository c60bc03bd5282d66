"""The About tab: intended use, the model card, test metrics, plots and the model comparison.

It shows the *verified* card of the loaded classifier (:meth:`AboutTab.set_card`), through the
card's typed accessors only, or says why the model was refused (:meth:`AboutTab.show_refused`,
and then no number of the refused model). Plots and the comparison are files the training
package wrote beside the model; nothing here imports the inference engine.
"""

from __future__ import annotations

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
from pneumo_desktop.core.card import ModelCard, Point
from pneumo_desktop.core.comparison import load_comparison
from pneumo_desktop.ui.metric_text import MISSING, format_created, format_metric, format_rate

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
#: (split, point, column title, objectName prefix)
METRIC_COLUMNS = (
    ("test", Point.OPERATING, "Test<br>operating threshold", "metric_"),
    ("test", Point.LIKELY, "Test<br>likely threshold", "metric_likely_"),
    ("test", Point.AT_05, "Test<br>threshold 0.5", "metric_at05_"),
    ("validation", Point.OPERATING, "Validation<br>operating threshold", "metric_val_"),
    ("validation", Point.LIKELY, "Validation<br>likely threshold", "metric_val_likely_"),
    ("validation", Point.AT_05, "Validation<br>threshold 0.5", "metric_val_at05_"),
)
SPLIT_METHODS = {
    "patient": "by patient: no child's films fall on both sides",
    "patient_earliest": "by patient, the earliest patient numbers (a hold-out in acquisition "
                        "time): no child's films fall on both sides",
    "patient_earliest_series": "by patient, the earliest patient numbers of each subtype and "
                               "of each normal series (IM, NORMAL2): no child's films fall on "
                               "both sides",
    "image": "by image: a child's films can fall on both sides",
}
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


class AboutTab(QWidget):
    """Shows one verified model card (or why there is none) plus the comparison of all
    models."""

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
        """Rebuild the whole page for ``card`` (None: no model loaded yet)."""
        self._card = card
        if card is None:
            text = f"No model loaded yet from {self._models_dir}"
            self._show_page(card, [_label(text, "no_card", wrap=True),
                                   self._comparison_box(None)])
            return
        boxes = [self._model_box(card), self._threshold_box(card), self._metrics_box(card),
                 self._stress_box(card), self._heads_box(card), self._data_box(card),
                 self._plots_box(card), self._changelog_box(card), self._comparison_box(card)]
        self._show_page(card, [box for box in boxes if box is not None])

    def show_refused(self, reason: str) -> None:
        """The model failed its checks: say why, and show none of its numbers (nor the
        comparison, which holds them too)."""
        self._card = None
        self._show_page(None, [_label(f"Model refused: {reason}", "model_refused", wrap=True)])

    def _show_page(self, card: ModelCard | None, widgets: list[QWidget]) -> None:
        content = QWidget()
        content.setObjectName("about_content")
        column = QVBoxLayout(content)
        column.setContentsMargins(16, 16, 16, 16)
        column.setSpacing(14)
        column.addWidget(self._intended_use_box(card))
        for widget in widgets:
            column.addWidget(widget)
        column.addWidget(self._citation_box(card))
        column.addStretch(1)
        self._scroll.setWidget(content)  # the previous page is deleted with its widgets

    def _intended_use_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("Intended use")
        layout = QVBoxLayout(box)
        statement = _label(card.intended_use if card else INTENDED_USE, "intended_use",
                           wrap=True)
        font = statement.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        statement.setFont(font)
        layout.addWidget(statement)
        layout.addWidget(_label(LIMITS, "limits", wrap=True))
        return box

    def _model_box(self, card: ModelCard) -> QGroupBox:
        training, spec, onnx = card.training, card.input_spec, card.onnx
        trained = f"{format_created(training.created)} ({training.seconds / 60:.1f} min)"
        libraries = ", ".join(f"{k} {v}" for k, v in card.libraries.items())
        graph = (f"{onnx.path.name}, ONNX opset {onnx.opset}" if onnx else MISSING)
        box = QGroupBox("Model")
        form = QFormLayout(box)
        rows = (
            ("Name", card.name, "model_name", ""),
            ("Version", card.version, "model_version", ""),
            ("Created", training.created[:10], "model_created", ""),
            ("Parameters", f"{card.parameters:,}", "model_parameters", ""),
            ("SHA-256", f"{card.sha256[:16]}…", "model_sha256", card.sha256),
            ("Input", f"{spec.size}×{spec.size} px, {spec.color}", "model_input",
             spec.preprocessing),
            ("Runs as", graph, "model_graph", onnx.sha256 if onnx else ""),
            ("Trained", trained, "training_when", ""),
            ("Device", training.device, "training_device", ""),
            ("Epochs", f"{training.epochs_run} run, best {training.best_epoch}",
             "training_epochs", ""),
            ("Libraries", libraries or MISSING, "libraries", ""),
        )
        for title, text, name, tooltip in rows:
            form.addRow(title + ":", _label(text, name, tooltip, wrap=name == "libraries"))
        return box

    def _threshold_box(self, card: ModelCard) -> QGroupBox:
        thresholds = card.thresholds
        box = QGroupBox("Thresholds")
        form = QFormLayout(box)
        rows = (
            ("Operating", format_metric("threshold", thresholds.operating), "threshold_value"),
            ("Chosen by", thresholds.operating_rule, "threshold_rule"),
            ("Likely from", format_metric("threshold", thresholds.likely), "likely_value"),
            ("Chosen by", thresholds.likely_rule, "likely_rule"),
            ("Decision", thresholds.decision, "threshold_decision"),
        )
        for title, text, name in rows:
            form.addRow(title + ":", _label(text, name, wrap=name.endswith("rule")))
        return box

    def _metrics_box(self, card: ModelCard) -> QGroupBox:
        box = QGroupBox("Metrics")
        layout = QVBoxLayout(box)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, (split, point, title, prefix) in enumerate(METRIC_COLUMNS, start=1):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
            metrics = card.metrics(split, point)
            for row, key in enumerate(METRICS, start=1):
                text = format_metric(key, getattr(metrics, key))
                grid.addWidget(_label(text, prefix + key), row, col)
        for row, title in enumerate(METRICS.values(), start=1):
            grid.addWidget(QLabel(title), row, 0)
        grid.setColumnStretch(len(METRIC_COLUMNS) + 1, 1)
        layout.addLayout(grid)
        layout.addSpacing(12)
        layout.addLayout(self._confusion_grid(card))
        return box

    def _confusion_grid(self, card: ModelCard) -> QGridLayout:
        matrix = card.metrics("test", Point.OPERATING).confusion
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
            cell = _label(f"{key.upper()}\n{getattr(matrix, key)}", f"cm_{key}", meaning)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setFrameShape(QFrame.Shape.Box)
            cell.setMinimumSize(120, 56)
            grid.addWidget(cell, row, col)
        grid.setColumnStretch(3, 1)
        return grid

    def _stress_box(self, card: ModelCard) -> QGroupBox | None:
        """How the threshold's calls move when the validation films are re-rendered as another
        machine might take them (``python -m training stress --card``); None without a report."""
        if card.stress_films is None:
            return None
        box = QGroupBox("Robustness to how a film was taken (validation films, re-rendered)")
        layout = QVBoxLayout(box)
        layout.addWidget(_label(
            f"The {card.stress_films} validation films, changed as another X-ray machine or "
            "export might change them, at the operating threshold. A model that reads the lungs "
            "barely moves; large swings mean it also reads how the film was taken, and films "
            "from other machines will be called less reliably.", "stress_intro", wrap=True))
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, title in enumerate(("Change", "Normals flagged", "Pneumonias caught")):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for row, stress in enumerate(card.stress_rows, start=1):
            grid.addWidget(QLabel(stress.change), row, 0)
            for col, key in enumerate(("normals_flagged", "pneumonia_caught"), start=1):
                text = format_rate(getattr(stress, key))
                grid.addWidget(_label(text, f"stress_{row}_{key}"), row, col)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)
        return box

    def _heads_box(self, card: ModelCard) -> QGroupBox | None:
        heads = card.heads
        if heads is None:
            return None
        box = QGroupBox("Not a chest X-ray; bacterial vs viral")
        form = QFormLayout(box)
        subtype = heads.subtype_test
        form.addRow("Not an X-ray:", _label(
            f"feature distance over {heads.ood_threshold:.1f} ({heads.ood_rule})",
            "heads_not_xray", wrap=True))
        form.addRow("Bacterial vs viral:", _label(
            f"test accuracy {format_rate(subtype.accuracy)}, ROC AUC "
            f"{format_metric('roc_auc', subtype.roc_auc)} on {subtype.n} pneumonia films",
            "heads_subtype", wrap=True))
        return box

    def _data_box(self, card: ModelCard) -> QGroupBox:
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        for col, (_, title) in enumerate(DATA_COLUMNS, start=1):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for row, split in enumerate(("train", "validation", "test"), start=1):
            grid.addWidget(QLabel(split.capitalize()), row, 0)
            counts = card.counts(split)
            for col, (key, _) in enumerate(DATA_COLUMNS, start=1):
                grid.addWidget(_label(str(getattr(counts, key)), f"data_{split}_{key}"), row, col)
        grid.setColumnStretch(len(DATA_COLUMNS) + 1, 1)
        layout.addLayout(grid)
        split = card.split
        how = SPLIT_METHODS.get(split.method, split.method)
        # The earliest-patients hold-out draws nothing at random: no seed to show.
        seed = "" if split.method.startswith("patient_earliest") else f", seed {split.seed}"
        text = (f"Validation carved out of train {how}; "
                f"{format_rate(split.validation_fraction)} of the patients{seed}.")
        layout.addWidget(_label(text, "data_split", wrap=True))
        return box

    def _plots_box(self, card: ModelCard) -> QGroupBox:
        box = QGroupBox("Plots")
        grid = QGridLayout(box)
        for index, (kind, title, width) in enumerate(PLOTS):
            path = card.plot_path(kind)
            pixmap = QPixmap(str(path))
            image = _label("", f"plot_{kind}", title)
            if pixmap.isNull():
                image.setText(f"plot not found: {path.name}")
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

    def _changelog_box(self, card: ModelCard) -> QGroupBox:
        box = QGroupBox("Model versions")
        layout = QVBoxLayout(box)
        text = "\n".join(f"{entry.version} ({entry.date}): {entry.changes}"
                         for entry in reversed(card.changelog))
        layout.addWidget(_label(text, "changelog", wrap=True))
        return box

    def _comparison_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("All trained models (test set, each at its own operating threshold)")
        layout = QVBoxLayout(box)
        try:
            comparison = load_comparison(self._models_dir)
        except FileNotFoundError as error:
            layout.addWidget(_label(f"No model comparison: {error.filename} not found.",
                                    "comparison_missing", wrap=True))
            return box
        except ValueError as error:
            path = self._models_dir / "comparison.json"
            layout.addWidget(_label(f"Model comparison {path} is unreadable: {error}",
                                    "comparison_missing", wrap=True))
            return box
        table = QTableWidget(len(comparison.rows), len(COMPARISON_COLUMNS))
        table.setObjectName("comparison_table")
        table.setHorizontalHeaderLabels([title for _, title in COMPARISON_COLUMNS])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, model in enumerate(comparison.rows):
            for col, (key, _) in enumerate(COMPARISON_COLUMNS):
                item = QTableWidgetItem(format_metric(key, getattr(model, key)))
                if card is not None and model.model == card.name:
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
        if comparison.notes:
            layout.addWidget(_label("\n".join(f"• {note}" for note in comparison.notes),
                                    "comparison_notes", wrap=True))
        return box

    def _citation_box(self, card: ModelCard | None) -> QGroupBox:
        box = QGroupBox("Data set and application")
        layout = QVBoxLayout(box)
        layout.addWidget(_label(card.citation if card else DATASET_CITATION, "citation",
                                wrap=True))
        layout.addWidget(_label(f"pneumo_desktop {__version__}", "app_version"))
        return box
