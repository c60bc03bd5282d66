"""Monitoring after calibration, as WHO advises for CAD: the share of films flagged per day or
per week, the radiologist's agreement with the model, how many films were reviewed, and the
alert when a week's share flagged leaves the band seen at calibration
(:mod:`pneumo_desktop.core.monitoring`)."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.monitoring import Baseline, MonitoringReport, Period, PeriodSummary
from pneumo_desktop.ui.controls import row

COLUMNS = ("Period from", "Films", "Flagged", "Expected from calibration", "Reviewed",
           "Agreement")
OUTSIDE = QColor(255, 214, 170)
PER_WEEK, PER_DAY = "per week", "per day"


def _period_cells(summary: PeriodSummary) -> list[str]:
    expected = "—"
    if summary.expected is not None:
        low, high = summary.expected
        expected = f"{low}–{high} ({low / summary.films:.0%}–{high / summary.films:.0%})"
    agreement = summary.agreement
    agreed = f"{agreement.value:.0%} ({agreement.successes}/{agreement.trials})" \
        if agreement.trials else "—"
    return [summary.start.isoformat(), str(summary.films),
            f"{summary.flagged} ({summary.flagged_share:.0%})", expected,
            str(summary.reviewed), agreed]


class MonitoringBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Monitoring since calibration", parent)
        self._report: MonitoringReport | None = None
        self.period_combo = QComboBox(self, objectName="period_combo")
        self.period_combo.addItems([PER_WEEK, PER_DAY])
        self.period_combo.currentTextChanged.connect(self._fill)
        self.summary_label = QLabel(self, objectName="monitoring_summary")
        self.summary_label.setWordWrap(True)
        self.alert_label = QLabel(self, objectName="monitoring_alert")
        self.alert_label.setWordWrap(True)
        self.alert_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.alert_label.hide()
        self.table = QTableWidget(0, len(COLUMNS), self, objectName="monitoring_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(220)
        layout = QVBoxLayout(self)
        layout.addLayout(row("Share flagged", self.period_combo, None))
        for widget in (self.alert_label, self.summary_label, self.table):
            layout.addWidget(widget)

    @property
    def report(self) -> MonitoringReport | None:
        return self._report

    def show_report(self, report: MonitoringReport, baseline: Baseline | None) -> None:
        self._report = report
        agreement = report.agreement
        if agreement.trials:
            low, high = agreement.interval
            agreed = (f"the radiologist agreed with the model on {agreement.successes} of "
                      f"{agreement.trials} ({agreement.value:.0%}, 95% CI {low:.0%}–{high:.0%})")
        else:
            agreed = "no film reviewed yet"
        reviewed = sum(week.reviewed for week in report.weekly)
        if baseline is None:
            band = ("No site calibration in use: flags are the stored verdicts, and there is "
                    "no band to alert on.")
        else:
            band = (f"Band from calibration: {baseline.flagged} of {baseline.films} films "
                    f"flagged at the site threshold {baseline.threshold:.4f}.")
        self.summary_label.setText(
            f"{report.films} films classified, {reviewed} reviewed; {agreed}. {band}")
        alerts = report.alerts
        self.alert_label.setVisible(bool(alerts))
        self.alert_label.setText("⚠ " + "\n⚠ ".join(alerts) if alerts else "")
        self._fill()

    def _fill(self, *_args) -> None:
        report = self._report
        periods = [] if report is None else (
            report.weekly if self.period_combo.currentText() == PER_WEEK else report.daily)
        self.table.setRowCount(len(periods))
        for row_index, summary in enumerate(reversed(periods)):  # newest first
            for column, text in enumerate(_period_cells(summary)):
                item = QTableWidgetItem(text)
                if summary.outside_band and summary.period is Period.WEEK:  # alerts: weekly
                    item.setBackground(QBrush(OUTSIDE))
                    item.setToolTip(summary.alert())
                self.table.setItem(row_index, column, item)
        self.table.resizeColumnsToContents()
