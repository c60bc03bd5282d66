"""A CD or USB stick's DICOMDIR as a patient/study list: pick a study to view or to scan.

The listing comes from :func:`pneumo_desktop.core.dicomdir.read_dicomdir` (films only; files
the index names but the disc lacks are said). "View" opens the study's first film in the
viewer. "Scan" scans the study's own folder when it holds that study alone (the usual
``PATIENT/STUDY/SERIES/IMAGE`` layout of a disc), else the whole disc: a scan is of a folder,
and the worklist then groups the films by study.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.dicom import DICOMDIR_NAME
from pneumo_desktop.core.dicomdir import DicomDir, DicomDirStudy, find_dicomdir
from pneumo_desktop.core.results import PatientStudy
from pneumo_desktop.core.scan import list_images

_STUDY_ROLE = Qt.ItemDataRole.UserRole + 1


class DicomDirAction(StrEnum):
    VIEW = "view"
    SCAN = "scan"


@dataclass(frozen=True)
class DicomDirChoice:
    action: DicomDirAction
    films: tuple[Path, ...]  # the study's films, in series and instance order
    folder: Path  # what a scan of the study scans (see the module doc)


def study_films(study: DicomDirStudy) -> tuple[Path, ...]:
    return tuple(image.path for series in study.series for image in series.images)


def study_folder(study: DicomDirStudy, disc: Path) -> Path:
    """The folder holding ``study``'s films and no other film; ``disc`` when there is none."""
    films = {os.path.normcase(os.path.abspath(path)) for path in study_films(study)}
    if not films:
        return disc
    common = Path(os.path.commonpath(list(films)))
    if common.is_file():
        common = common.parent
    try:
        inside = {os.path.normcase(os.path.abspath(p)) for p in list_images(common)}
    except OSError:
        return disc
    return common if inside == films else disc


def _study_text(study: DicomDirStudy) -> str:
    count = len(study_films(study))
    date = study.study_date.isoformat() if study.study_date else "no date"
    parts = [date, study.study_description, f"{count} film{'s' if count != 1 else ''}"]
    if study.accession_number:
        parts.append(f"accession {study.accession_number}")
    return " · ".join(part for part in parts if part)


class DicomDirDialog(QDialog):
    """Patients and their studies; :attr:`choice` is set when View or Scan is pressed."""

    def __init__(self, listing: DicomDir, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="dicomdir_dialog")
        self.listing, self.choice = listing, None
        self._disc = listing.path.parent
        self.setWindowTitle(f"DICOMDIR — {self._disc}")
        self.tree = QTreeWidget(self, objectName="dicomdir_tree")
        self.tree.setHeaderLabels(["Patient / study"])
        for patient in listing.patients:
            name = PatientStudy(patient_name=patient.patient_name).display_name or "No name"
            top = QTreeWidgetItem(self.tree, [f"{name} · ID {patient.patient_id or '—'}"])
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            for study in patient.studies:
                item = QTreeWidgetItem(top, [_study_text(study)])
                item.setData(0, _STUDY_ROLE, study)
        self.tree.expandAll()
        self.tree.itemDoubleClicked.connect(lambda *_: self.choose(DicomDirAction.VIEW))
        self.tree.currentItemChanged.connect(self._update_buttons)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.view_button = buttons.addButton("View", QDialogButtonBox.ButtonRole.AcceptRole)
        self.scan_button = buttons.addButton("Scan", QDialogButtonBox.ButtonRole.ActionRole)
        self.view_button.clicked.connect(lambda: self.choose(DicomDirAction.VIEW))
        self.scan_button.clicked.connect(lambda: self.choose(DicomDirAction.SCAN))
        buttons.rejected.connect(self.reject)
        missing = len(listing.missing)
        self.missing_label = QLabel(
            f"{missing} file(s) the DICOMDIR lists are not on the disc." if missing else "",
            self, objectName="missing_label", visible=bool(missing))
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.missing_label)
        layout.addWidget(buttons)
        self.resize(560, 420)
        first = self._study_items()[:1]
        if first:
            self.tree.setCurrentItem(first[0])
        self._update_buttons()

    def studies(self) -> list[DicomDirStudy]:
        return [item.data(0, _STUDY_ROLE) for item in self._study_items()]

    def select_study(self, study_uid: str) -> bool:
        for item in self._study_items():
            if item.data(0, _STUDY_ROLE).study_instance_uid == study_uid:
                self.tree.setCurrentItem(item)
                return True
        return False

    def choose(self, action: DicomDirAction) -> None:
        """View or scan the selected study (nothing if no study is selected)."""
        item = self.tree.currentItem()
        study = item.data(0, _STUDY_ROLE) if item is not None else None
        if study is None or not study_films(study):
            return
        self.choice = DicomDirChoice(action, study_films(study),
                                     study_folder(study, self._disc))
        self.accept()

    def _study_items(self) -> list[QTreeWidgetItem]:
        top = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [patient.child(i) for patient in top for i in range(patient.childCount())]

    def _update_buttons(self, *_args) -> None:
        item = self.tree.currentItem()
        chosen = item is not None and item.data(0, _STUDY_ROLE) is not None
        self.view_button.setEnabled(chosen)
        self.scan_button.setEnabled(chosen)


def dicomdir_of(path: str | os.PathLike[str]) -> Path | None:
    """The DICOMDIR ``path`` names: the file itself, or the one at the top of a folder."""
    path = Path(path)
    if path.is_dir():
        return find_dicomdir(path)
    return path if path.name.upper() == DICOMDIR_NAME and path.is_file() else None


def ask_for_study(listing: DicomDir, parent: QWidget | None = None) -> DicomDirChoice | None:
    """The modal list; the study and what to do with it, or None when cancelled."""
    dialog = DicomDirDialog(listing, parent)
    dialog.exec()
    return dialog.choice
