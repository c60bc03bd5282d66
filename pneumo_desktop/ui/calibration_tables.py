"""The Site calibration view's two tables: the local metrics at each threshold, and the
profile's history. Plain builders over core objects, so the view only lays them out."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from pneumo_desktop.core.calibration import LocalMetrics, Proportion, SiteCalibration
from pneumo_desktop.core.results import OperatingPoint
from pneumo_desktop.core.site_profile import SiteProfile

METRIC_COLUMNS = ("Threshold", "Sensitivity (95% CI)", "Specificity (95% CI)",
                  "Films flagged")
HISTORY_COLUMNS = ("Date (UTC)", "Action", "Threshold", "Likely threshold", "Pneumonias",
                   "Normals", "Model")


def read_only_table(columns: tuple[str, ...], name: str, parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent, objectName=name)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def proportion_text(proportion: Proportion) -> str:
    """``0.981 (0.950–0.995) 147/150``; a dash without films."""
    if not proportion.trials:
        return "— (no films)"
    low, high = proportion.interval
    return (f"{proportion.value:.3f} ({low:.3f}–{high:.3f}) "
            f"{proportion.successes}/{proportion.trials}")


def metric_rows(calibration: SiteCalibration,
                in_use: OperatingPoint | None) -> list[tuple[str, LocalMetrics]]:
    """(row title, metrics) for the factory threshold, the rule's, the point estimate (for
    information), and the one in use now when it is none of those."""
    films, target = calibration.films, calibration.target_sensitivity
    rows = [
        ("Factory (model card)", calibration.at_factory),
        (f"Site: default rule (95% bound ≥ {target:g})", calibration.at_proposed),
        (f"Point estimate ≥ {target:g} (information only)",
         LocalMetrics.at(films, calibration.point_estimate_threshold)),
    ]
    shown = {round(metrics.threshold, 9) for _, metrics in rows}
    if in_use is not None and round(in_use.threshold, 9) not in shown:
        rows.append((f"In use now ({in_use.source})", LocalMetrics.at(films, in_use.threshold)))
    return rows


def fill_metrics(table: QTableWidget, rows: list[tuple[str, LocalMetrics]]) -> None:
    table.setRowCount(len(rows))
    table.setVerticalHeaderLabels([title for title, _ in rows])
    for index, (_title, metrics) in enumerate(rows):
        cells = (f"{metrics.threshold:.4f}", proportion_text(metrics.sensitivity),
                 proportion_text(metrics.specificity),
                 f"{metrics.flagged.value:.0%}" if metrics.flagged.trials else "—")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(index, column, item)
    table.resizeColumnsToContents()


def fill_history(table: QTableWidget, profile: SiteProfile | None) -> None:
    """Newest first; a revert shows no threshold (the card's applies)."""
    history = list(reversed(profile.history)) if profile is not None else []
    table.setRowCount(len(history))
    for index, entry in enumerate(history):
        cells = (str(entry.get("date", "")).replace("T", " ").replace("+00:00", ""),
                 str(entry.get("action", "")), _number(entry.get("threshold")),
                 _number(entry.get("likely_threshold")), _number(entry.get("pneumonia")),
                 _number(entry.get("normal")), str(entry.get("model_sha256", ""))[:12] + "…")
        for column, text in enumerate(cells):
            table.setItem(index, column, QTableWidgetItem(text))
    table.resizeColumnsToContents()


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
