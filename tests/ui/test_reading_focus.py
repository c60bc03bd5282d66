"""Defects found reading a worklist as a radiologist, driven through the real main window:
where the keyboard is after the first film opens from the worklist."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from pneumo_desktop.core.results import ReviewMark
from pneumo_desktop.ui.main_window import MainWindow
from pneumo_desktop.ui.preferences import Preferences
from tests.conftest import synthetic_xray

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot, tiny_models_dir, tmp_path) -> MainWindow:
    """The main window, model loaded, with a scan of six films on its worklist."""
    folder = tmp_path / "films"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for index in range(6):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0, size=120)).save(folder / f"{index}.png")
    preferences = Preferences(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(tiny_models_dir, tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    window.batch_tab.confirm = lambda question: False
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.start_loading_model()
    with qtbot.waitSignal(window.batch_tab.scanFinished, timeout=TIMEOUT_MS):
        window.open_argument(str(folder))
    return window


def press_where_the_focus_is(qtbot, key) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key)


def test_the_first_film_opened_from_the_worklist_takes_a_at_once(qtbot, window) -> None:
    """Enter on the worklist's row opens the viewer; the keyboard must be on the film, not on
    the first spin box of the window/level row (which swallows A, D and N)."""
    batch, viewer = window.batch_tab, window.viewer_tab
    order = batch.worklist_paths()
    batch.worklist.focus_table()
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(batch.worklist.table, Qt.Key.Key_Return)
    assert shown.args == [order[0]]
    assert viewer.image_view.hasFocus()
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        press_where_the_focus_is(qtbot, Qt.Key.Key_A)
    assert shown.args == [order[1]]
    assert batch.result_for_path(order[0]).review is ReviewMark.AGREE
