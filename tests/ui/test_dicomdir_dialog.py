"""A disc's DICOMDIR opens as a patient/study list; a study is viewed or scanned."""

from __future__ import annotations

from pathlib import Path

from pneumo_desktop.core.dicomdir import read_dicomdir
from pneumo_desktop.ui.dicomdir_dialog import (
    DicomDirAction,
    DicomDirDialog,
    dicomdir_of,
    study_films,
)
from tests.core.test_dicomdir import disc  # noqa: F401 - the fixture: a disc of two patients


def test_the_list_shows_patients_and_studies_and_a_study_is_viewed(qtbot, disc):  # noqa: F811
    listing = read_dicomdir(disc / "DICOMDIR")
    dialog = DicomDirDialog(listing)
    qtbot.addWidget(dialog)
    tree = dialog.tree
    patients = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert patients == ["Doe, Jane · ID P1", "Roe, Rick · ID P2"]
    jane, rick = dialog.studies()
    assert tree.topLevelItem(0).child(0).text(0).endswith("Chest PA · 2 films · accession A-77")
    assert tree.topLevelItem(1).child(0).text(0).startswith("2023-11-05")
    assert dialog.view_button.isEnabled()  # the first study is selected at once

    assert dialog.select_study(rick.study_instance_uid)
    dialog.view_button.click()
    assert dialog.result() == DicomDirDialog.DialogCode.Accepted
    choice = dialog.choice
    assert choice.action is DicomDirAction.VIEW and choice.films == study_films(rick)
    assert len(choice.films) == 1 and choice.films[0].is_file()


def test_scanning_a_study_scans_its_own_folder(qtbot, disc):  # noqa: F811
    listing = read_dicomdir(disc / "DICOMDIR")
    dialog = DicomDirDialog(listing)
    qtbot.addWidget(dialog)
    jane = dialog.studies()[0]
    assert dialog.select_study(jane.study_instance_uid)
    dialog.scan_button.click()
    choice = dialog.choice
    assert choice.action is DicomDirAction.SCAN
    assert [path.parent == choice.folder or choice.folder in path.parents
            for path in choice.films] == [True, True]
    assert choice.folder != disc  # Rick's film is not in it
    assert not any(Path(p).is_relative_to(choice.folder) for p in study_films(
        dialog.studies()[1]))


def test_a_dicomdir_is_found_from_the_disc_or_the_file(disc, tmp_path):  # noqa: F811
    assert dicomdir_of(disc) == disc / "DICOMDIR"
    assert dicomdir_of(disc / "DICOMDIR") == disc / "DICOMDIR"
    assert dicomdir_of(tmp_path / "sources") is None  # films, no index: a plain folder


def test_opening_a_disc_in_the_app_lists_it_and_opens_the_study_chosen(qtbot, disc,  # noqa: F811
                                                                        tmp_path):
    from PySide6.QtCore import QSettings

    from pneumo_desktop.ui.dicomdir_dialog import DicomDirChoice
    from pneumo_desktop.ui.main_window import MainWindow
    from pneumo_desktop.ui.preferences import Preferences

    preferences = Preferences(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(tmp_path / "no_models", tmp_path / "r.sqlite3", preferences)
    qtbot.addWidget(window)
    window.batch_tab.confirm = lambda question: False
    asked = []

    def pick(action):
        def choose(listing):
            asked.append([p.patient_id for p in listing.patients])
            study = listing.patients[1].studies[0]
            return DicomDirChoice(action, study_films(study), disc)
        return choose

    window.choose_study = pick(DicomDirAction.VIEW)
    with qtbot.waitSignal(window.viewer_tab.imageLoaded, timeout=30_000):
        window.open_argument(str(disc))  # the disc's folder: its list, not a scan
    assert asked == [["P1", "P2"]]
    rick = study_films(read_dicomdir(disc / "DICOMDIR").patients[1].studies[0])[0]
    assert window.tabs.currentWidget() is window.viewer_tab
    assert Path(window.viewer_tab.current_path) == rick

    window.choose_study = pick(DicomDirAction.SCAN)
    window.open_argument(str(disc / "DICOMDIR"))  # the index file itself
    assert window.tabs.currentWidget() is window.batch_tab
    assert str(disc) in window.statusBar().currentMessage()  # scanned once the model is ready
    window.choose_study = lambda listing: None  # cancelled: nothing happens
    assert not window.open_dicomdir(disc)
