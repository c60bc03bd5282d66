"""The Site calibration view: what the clinic's own films say about the threshold, applying or
reverting it, and monitoring since.

The films are the store's review marks (all scans, each film once) plus, optionally, a
NORMAL/PNEUMONIA folder (:class:`CalibrationFolderBox`). The numbers come from
:func:`~pneumo_desktop.core.site_overview.site_overview`, run in a worker; the tab draws them:
the local ROC, sensitivity and specificity with 95% intervals at the factory and site
thresholds, what the site still needs, the rule's proposal, the profile's history, monitoring.
Apply (after a confirmation) and Revert go through :class:`SiteProfileService`, which changes
the classifier's operating point on the inference thread and audits the change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.calibration import DEFAULT_TARGET_SENSITIVITY, MIN_TARGET_SENSITIVITY
from pneumo_desktop.core.site_overview import SiteOverview, class_counts, site_overview
from pneumo_desktop.ui.calibration_folder import CalibrationFolderBox
from pneumo_desktop.ui.calibration_tables import (
    HISTORY_COLUMNS,
    METRIC_COLUMNS,
    fill_history,
    fill_metrics,
    metric_rows,
    read_only_table,
)
from pneumo_desktop.ui.controls import push_button, row
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.monitoring_box import MonitoringBox
from pneumo_desktop.ui.roc_plot import Marker, RocPlot
from pneumo_desktop.ui.site_profile_service import SiteProfileService
from pneumo_desktop.ui.workers import FunctionWorker

FACTORY_COLOUR, SITE_COLOUR = QColor(120, 120, 120), QColor(214, 110, 0)
WARNING_STYLE = "color: #a04000; font-weight: bold;"


def _label(name: str, parent: QWidget, wrap: bool = True) -> QLabel:
    label = QLabel(parent, objectName=name)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class CalibrationTab(QWidget):
    """See the module docstring. ``overviewUpdated`` carries each new :class:`SiteOverview`."""

    overviewUpdated = Signal(object)  # noqa: N815 - Qt naming

    def __init__(self, inference: InferenceService, profiles: SiteProfileService,
                 db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference, self._profiles, self._db_path = inference, profiles, Path(db_path)
        self._overview: SiteOverview | None = None
        self._worker: FunctionWorker | None = None
        self._again = False  # a refresh was asked for while one ran
        #: Asked before Apply and Revert; tests replace it to avoid a modal box.
        self.confirm: Callable[[str, str], bool] = self._ask
        self._build()
        profiles.changed.connect(self.refresh)
        profiles.failed.connect(lambda message: self._say(message, error=True))
        self.folder_box.scored.connect(self.refresh)
        self.folder_box.cleared.connect(self.refresh)
        self._update_actions()

    def _build(self) -> None:
        self.in_use_label = _label("in_use_label", self)
        self.in_use_label.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.notice_label = _label("notice_label", self)
        self.message_label = _label("calibration_message", self)
        self.films_label = _label("films_label", self)
        self.target_spin = QDoubleSpinBox(self, objectName="target_spin")
        self.target_spin.setRange(MIN_TARGET_SENSITIVITY, 0.995)
        self.target_spin.setDecimals(3)
        self.target_spin.setSingleStep(0.005)
        self.target_spin.setValue(DEFAULT_TARGET_SENSITIVITY)
        self.target_spin.setToolTip("Sensitivity the site threshold must keep: its one-sided "
                                    "95% lower bound stays at or above this (never below 0.95)")
        self.target_spin.valueChanged.connect(self.refresh)
        self.refresh_button = push_button("Recompute", self.refresh, parent=self,
                                          name="refresh_button")
        self.folder_box = CalibrationFolderBox(self._inference, self)
        self.roc_plot = RocPlot(self)
        self.metrics_table = read_only_table(METRIC_COLUMNS, "metrics_table", self)
        self.metrics_table.setMaximumHeight(150)
        self.rule_label = _label("rule_label", self)
        self.needs_label = _label("needs_label", self)
        self.needs_label.setStyleSheet("font-weight: bold;")
        self.apply_button = push_button("Apply site threshold…", self.apply, parent=self,
                                        name="apply_button")
        self.revert_button = push_button("Revert to factory…", self.revert, parent=self,
                                         name="revert_button")
        self.history_table = read_only_table(HISTORY_COLUMNS, "history_table", self)
        self.history_table.setMaximumHeight(180)
        self.monitoring_box = MonitoringBox(self)

        in_use = QGroupBox("Threshold in use for new verdicts", self)
        box = QVBoxLayout(in_use)
        for widget in (self.in_use_label, self.notice_label):
            box.addWidget(widget)
        films = QGroupBox("The site's labelled films", self)
        box = QVBoxLayout(films)
        box.addWidget(self.films_label)
        box.addLayout(row("Target sensitivity:", self.target_spin, self.refresh_button, None))
        box.addWidget(self.folder_box)
        results = QGroupBox("What they say", self)
        grid = QGridLayout(results)
        grid.addWidget(self.roc_plot, 0, 0, 5, 1)
        grid.addWidget(self.metrics_table, 0, 1)
        grid.addWidget(self.rule_label, 1, 1)
        grid.addWidget(self.needs_label, 2, 1)
        grid.addLayout(row(self.apply_button, self.revert_button, None), 3, 1)
        grid.setRowStretch(4, 1)
        grid.setColumnStretch(1, 2)
        history = QGroupBox("Site profile history", self)
        QVBoxLayout(history).addWidget(self.history_table)

        content = QWidget(self)
        layout = QVBoxLayout(content)
        for widget in (in_use, self.message_label, films, results, self.monitoring_box,
                       history):
            layout.addWidget(widget)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        QVBoxLayout(self).addWidget(scroll)

    # Public ------------------------------------------------------------------------------
    @property
    def overview(self) -> SiteOverview | None:
        """The numbers on screen (None until the first refresh has returned)."""
        return self._overview

    @property
    def is_refreshing(self) -> bool:
        return self._worker is not None

    def refresh(self, *_args) -> bool:
        """Recompute from the store (and the scored folder) in the background."""
        classifier = self._inference.classifier
        if classifier is None:
            self._say("The model is still loading.")
            return False
        if self._worker is not None:
            self._again = True
            return True
        if self._overview is None:
            self.films_label.setText("Reading the site's reviewed films…")
        worker = FunctionWorker(partial(
            site_overview, self._db_path, classifier.card, folder=self.folder_box.scores,
            target=self.target_spin.value(), profile_path=self._profiles.profile_path))
        worker.signals.returned.connect(self._show)
        worker.signals.errored.connect(
            lambda error: self._say(f"The site's films could not be read: {error}", True))
        worker.signals.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()
        self._update_actions()
        return True

    def apply(self) -> bool:
        """Apply the rule's proposal, once the user confirms."""
        calibration = self._overview.calibration if self._overview else None
        if calibration is None:
            return False
        point, factory = calibration.proposed, calibration.factory
        question = (
            f"Use the site threshold {point.threshold:.4f} (factory {factory.threshold:.4f}) "
            f"and likely threshold {point.likely_threshold:.4f} for every new verdict, in the "
            f"viewer and in scans?\n\nOn this site's {calibration.films.scores.size} films: "
            f"sensitivity {calibration.at_proposed.sensitivity}, specificity "
            f"{calibration.at_proposed.specificity}.\n{calibration.verdict()}.\n\n"
            "The change is recorded in the audit trail under your name.")
        if not self.confirm("Apply the site threshold?", question):
            return False
        return self._announce(self._profiles.apply(calibration),
                              f"site threshold {point.threshold:.4f}")

    def revert(self) -> bool:
        """Go back to the card's threshold, once the user confirms."""
        question = ("Go back to the model card's threshold for every new verdict? The site "
                    "profile keeps its history, and the change is recorded in the audit trail.")
        if not self.confirm("Revert to the factory threshold?", question):
            return False
        return self._announce(self._profiles.revert(), "factory threshold")

    def _announce(self, request, what: str) -> bool:
        if request is None:
            return False
        request.returned.connect(lambda _point: self._say(
            f"Applied: every verdict from now on uses the {what}. Films already on screen or "
            "in the worklist keep the threshold that made them (it is shown beside each)."))
        return True

    def shutdown(self) -> None:
        self.folder_box.shutdown()
        if self._worker is not None:
            self._worker.join(30)

    # Slots -------------------------------------------------------------------------------
    def _on_finished(self) -> None:
        self._worker = None
        if self._again:
            self._again = False
            self.refresh()
        self._update_actions()

    def _show(self, overview: SiteOverview) -> None:
        self._overview = overview
        self._show_in_use(overview)
        pneumonia, normal = class_counts(overview.reviewed)
        self.films_label.setText(
            f"Review marks from the worklist and viewer (all scans, each film once): "
            f"{pneumonia} confirmed pneumonia, {normal} confirmed normal.")
        calibration = overview.calibration
        if calibration is None:
            self.roc_plot.clear(overview.problem or "No labelled films yet")
            fill_metrics(self.metrics_table, [])
            self.rule_label.setText(overview.problem or "")
            self.needs_label.setText("")
        else:
            self._show_calibration(calibration)
        fill_history(self.history_table, overview.state.profile)
        self.monitoring_box.show_report(overview.monitoring, overview.baseline)
        self._update_actions()
        self.overviewUpdated.emit(overview)

    def _show_in_use(self, overview: SiteOverview) -> None:
        point = self._profiles.operating_point
        state = overview.state
        if point is not None:
            self.in_use_label.setText(
                f"{point.source.capitalize()} threshold {point.threshold:.4f} "
                f"(likely {point.likely_threshold:.4f})")
        self.notice_label.setText(state.notice)
        warn = state.error is not None or state.for_another_model
        self.notice_label.setStyleSheet(WARNING_STYLE if warn else "")

    def _show_calibration(self, calibration) -> None:
        fpr, tpr, _ = calibration.roc_points()
        markers = [
            Marker(f"factory {calibration.factory.threshold:.4f}",
                   1 - calibration.at_factory.specificity.value,
                   calibration.at_factory.sensitivity.value, FACTORY_COLOUR),
            Marker(f"site {calibration.proposed.threshold:.4f}",
                   1 - calibration.at_proposed.specificity.value,
                   calibration.at_proposed.sensitivity.value, SITE_COLOUR),
        ]
        self.roc_plot.set_curve(fpr, tpr, calibration.auc, markers)
        fill_metrics(self.metrics_table, metric_rows(calibration, self._profiles.operating_point))
        self.rule_label.setText(f"Rule: {calibration.verdict()}.")
        needs = []
        if calibration.pneumonias_needed:
            needs.append(f"{calibration.pneumonias_needed} more confirmed pneumonias before "
                         "the rule may raise the threshold")
        if calibration.normals_needed:
            needs.append(f"{calibration.normals_needed} more confirmed normals before the "
                         "likely threshold is the site's own")
        self.needs_label.setText("The site still needs " + "; ".join(needs) + "." if needs
                                 else "The site has enough confirmed films for both rules.")

    def _update_actions(self) -> None:
        overview, point = self._overview, self._profiles.operating_point
        calibration = overview.calibration if overview else None
        self.apply_button.setEnabled(calibration is not None and point is not None)
        self.revert_button.setEnabled(overview is not None and overview.state.in_use)
        self.refresh_button.setEnabled(self._inference.is_ready)

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #b00020;" if error else "")

    def _ask(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(
            self, title, question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
