"""Settings: the DICOM receiver, DICOM results (output folder and PACS node) and the folder
watch. The dialog edits copies; OK checks them (``problems()``) and stays open, naming the
first problem, until they can be used."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.ui.controls import push_button
from pneumo_desktop.ui.site_settings import (
    DicomResultSettings,
    ReceiverSettings,
    WatchSettings,
    default_receive_folder,
)

BIND_HINT = ("0.0.0.0: every address of this computer (the X-ray unit reaches it over the "
             "clinic's network); 127.0.0.1: this computer only")


def _folder_row(edit: QLineEdit, parent: QWidget, title: str) -> QHBoxLayout:
    def browse() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text() or str(Path.home()))
        if folder:
            edit.setText(folder)

    layout = QHBoxLayout()
    layout.addWidget(edit)
    layout.addWidget(push_button("Browse…", browse, parent=parent))
    return layout


def _port_box(value: int, name: str, parent: QWidget) -> QSpinBox:
    box = QSpinBox(parent, objectName=name)
    box.setRange(1, 65535)
    box.setValue(value)
    return box


class SettingsDialog(QDialog):
    def __init__(self, receiver: ReceiverSettings, results: DicomResultSettings,
                 watch: WatchSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — receiver, DICOM results, watched folders")
        self.problem_label = QLabel(self, objectName="settings_problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00020;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for part in (self._receiver_box(receiver), self._results_box(results),
                     self._watch_box(watch), self.problem_label, buttons):
            layout.addWidget(part)

    def _receiver_box(self, settings: ReceiverSettings) -> QGroupBox:
        box = QGroupBox("DICOM receiver (the node the X-ray unit sends films to)", self)
        self.receiver_enabled = QCheckBox("Receive films while the app runs", box,
                                          objectName="receiver_enabled")
        self.receiver_enabled.setChecked(settings.enabled)
        self.ae_title_edit = QLineEdit(settings.ae_title, box, objectName="ae_title_edit")
        self.port_box = _port_box(settings.port, "port_box", box)
        self.bind_edit = QLineEdit(settings.bind, box, objectName="bind_edit")
        self.bind_edit.setToolTip(BIND_HINT)
        self.allowed_edit = QLineEdit(", ".join(settings.allowed_calling_ae), box,
                                      objectName="allowed_edit")
        self.allowed_edit.setPlaceholderText("any (or e.g. XRAY1, XRAY2)")
        self.receive_folder_edit = QLineEdit(str(settings.folder or ""), box,
                                             objectName="receive_folder_edit")
        self.receive_folder_edit.setPlaceholderText(str(default_receive_folder()))
        self.scan_arrivals_check = QCheckBox(
            "Scan received films into the worklist as they arrive", box,
            objectName="scan_arrivals_check")
        self.scan_arrivals_check.setChecked(settings.scan_arrivals)
        form = QFormLayout(box)
        form.addRow(self.receiver_enabled)
        form.addRow("AE title:", self.ae_title_edit)
        form.addRow("Port:", self.port_box)
        form.addRow("Listen on address:", self.bind_edit)
        form.addRow("", QLabel(BIND_HINT, box, wordWrap=True))
        form.addRow("Accept calling AE titles:", self.allowed_edit)
        form.addRow("Store films in:", _folder_row(self.receive_folder_edit, self,
                                                   "Folder for received films"))
        form.addRow(self.scan_arrivals_check)
        return box

    def _results_box(self, settings: DicomResultSettings) -> QGroupBox:
        box = QGroupBox("DICOM results (Secondary Capture + Structured Report per film)", self)
        self.results_folder_edit = QLineEdit(str(settings.folder or ""), box,
                                             objectName="results_folder_edit")
        self.results_folder_edit.setPlaceholderText("a folder outside the scanned ones")
        self.pacs_ae_edit = QLineEdit(settings.pacs_ae_title, box, objectName="pacs_ae_edit")
        self.pacs_ae_edit.setPlaceholderText("empty: write to the folder only")
        self.pacs_host_edit = QLineEdit(settings.pacs_host, box, objectName="pacs_host_edit")
        self.pacs_port_box = _port_box(settings.pacs_port, "pacs_port_box", box)
        form = QFormLayout(box)
        form.addRow("Output folder:", _folder_row(self.results_folder_edit, self,
                                                  "Folder for DICOM results"))
        form.addRow("PACS AE title:", self.pacs_ae_edit)
        form.addRow("PACS host:", self.pacs_host_edit)
        form.addRow("PACS port:", self.pacs_port_box)
        return box

    def _watch_box(self, settings: WatchSettings) -> QGroupBox:
        box = QGroupBox("Watched folders", self)
        self.settle_box = QDoubleSpinBox(box, objectName="settle_box")
        self.settle_box.setRange(0.2, 120.0)
        self.settle_box.setDecimals(1)
        self.settle_box.setSuffix(" s")
        self.settle_box.setValue(settings.settle_seconds)
        self.settle_box.setToolTip("A new film counts once its size has not changed for this "
                                   "long (it may still be copying)")
        self.polling_check = QCheckBox("Poll the folder (for network shares, where the "
                                       "system's notifications do not arrive)", box,
                                       objectName="polling_check")
        self.polling_check.setChecked(settings.polling)
        form = QFormLayout(box)
        form.addRow("A film is whole after:", self.settle_box)
        form.addRow(self.polling_check)
        return box

    # Values ------------------------------------------------------------------------------
    def receiver_settings(self) -> ReceiverSettings:
        allowed = tuple(title for title in re.split(r"[,;\s]+", self.allowed_edit.text())
                        if title)
        folder = self.receive_folder_edit.text().strip()
        return ReceiverSettings(
            self.receiver_enabled.isChecked(), self.ae_title_edit.text().strip(),
            self.port_box.value(), self.bind_edit.text().strip(), allowed,
            Path(folder) if folder else None, self.scan_arrivals_check.isChecked())

    def result_settings(self) -> DicomResultSettings:
        folder = self.results_folder_edit.text().strip()
        return DicomResultSettings(Path(folder) if folder else None,
                                   self.pacs_ae_edit.text().strip(),
                                   self.pacs_host_edit.text().strip(), self.pacs_port_box.value())

    def watch_settings(self) -> WatchSettings:
        return WatchSettings(self.settle_box.value(), self.polling_check.isChecked())

    def problems(self) -> list[str]:
        """What stops the settings being used; a results folder not set yet is fine here
        (it is asked for when a result is written)."""
        results = self.result_settings()
        found = [problem for problem in results.problems() if results.folder is not None
                 or "output folder" not in problem]
        found += self.watch_settings().problems()
        receiver = self.receiver_settings()
        if receiver.enabled:
            found = receiver.problems() + found
        return found

    def accept(self) -> None:
        problems = self.problems()
        if problems:
            self.problem_label.setText(problems[0])
            return
        super().accept()
