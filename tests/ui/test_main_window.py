from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QKeySequence, QShortcut

from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.main_window import MainWindow, first_start_geometry
from pneumo_desktop.ui.preferences import LimeSettings, Preferences
from pneumo_desktop.ui.shortcuts import ShortcutsDialog
from pneumo_desktop.ui.style import FOCUS_STYLE
from pneumo_desktop.ui.workers import running_workers
from tests.conftest import synthetic_xray


@pytest.fixture
def preferences(tmp_path) -> Preferences:
    # Never the developer's real preferences.
    return Preferences(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def films(tmp_path) -> Path:
    folder = tmp_path / "films"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for index in range(6):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0, size=120)).save(folder / f"{index}.png")
    return folder


def _ready_window(qtbot, models_dir, tmp_path, preferences) -> MainWindow:
    window = MainWindow(models_dir, tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    window.show()
    window.batch_tab.confirm = lambda question: False
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.start_loading_model()
    return window


def test_window_shows_before_the_model_and_then_reports_device(
    qtbot, tiny_models_dir, tmp_path, preferences
):
    window = MainWindow(tiny_models_dir, tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    window.show()
    assert window.classifier is None and window.device_label.text() == "Loading model…"
    assert [window.tabs.tabText(i) for i in range(3)] == [
        "Viewer", "Batch scan / worklist", "About / Validation",
    ]
    window.batch_tab.confirm = lambda question: False
    with qtbot.waitSignal(window.modelReady, timeout=120_000) as ready:
        window.start_loading_model()
    [classifier] = ready.args
    assert window.classifier is classifier and window.inference.classifier is classifier
    assert window.device_label.text() == f"Device: {classifier.device}"
    assert window.model_label.text() == f"Model cnn_deep_aug {classifier.card.version}"


def test_a_file_argument_opens_the_viewer_and_a_folder_starts_a_scan(
    qtbot, tiny_models_dir, tmp_path, preferences, films
):
    window = _ready_window(qtbot, tiny_models_dir, tmp_path, preferences)
    with qtbot.waitSignal(window.viewer_tab.imageLoaded, timeout=30_000):
        window.open_argument(str(films / "0.png"))
    assert window.tabs.currentWidget() is window.viewer_tab
    assert window.viewer_tab.current_path == str(films / "0.png")

    with qtbot.waitSignal(window.batch_tab.scanFinished, timeout=60_000) as finished:
        window.open_argument(str(films))
    assert finished.args[1] == "complete"
    assert window.tabs.currentWidget() is window.batch_tab
    assert window.batch_tab.worklist.model.rowCount() == 6


def test_a_folder_given_before_the_model_is_ready_is_scanned_once_it_is(
    qtbot, tiny_models_dir, tmp_path, preferences, films
):
    window = MainWindow(tiny_models_dir, tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    window.show()
    window.open_argument(str(films))
    assert "starts when the model is ready" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.batch_tab.scanFinished, timeout=120_000):
        window.start_loading_model()
    assert window.batch_tab.worklist.model.rowCount() == 6


def test_closing_saves_preferences_and_stops_a_running_scan(
    qtbot, tiny_models_dir, tmp_path, preferences, films
):
    window = _ready_window(qtbot, tiny_models_dir, tmp_path, preferences)
    window.viewer_tab.explain_panel.apply_lime_settings(LimeSettings(300, 5))
    window.batch_tab.start_scan(films, batch_size=1)
    window.viewer_tab.open_path(films / "0.png")
    window.close()
    assert not window.batch_tab.is_scanning and running_workers() == []
    assert not window.inference.is_running  # the inference thread has ended
    reread = Preferences(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert reread.window_geometry is not None
    assert reread.lime == LimeSettings(300, 5)
    assert reread.last_scan_folder == films


def test_a_missing_model_is_reported_not_raised(qtbot, tmp_path, preferences, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "pneumo_desktop.ui.main_window.QMessageBox.critical",
        lambda parent, title, text: shown.append(text),
    )
    window = MainWindow(tmp_path / "no-models", tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.modelFailed, timeout=60_000) as failed:
        window.start_loading_model()
    assert "model card not found" in failed.args[0] and shown == failed.args
    assert window.device_label.text() == "Model not loaded" and window.classifier is None


def test_help_opens_the_log_folder(qtbot, tmp_path, preferences, monkeypatch):
    from pneumo_desktop.ui import main_window

    opened = []
    monkeypatch.setenv("PNEUMO_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(main_window.QDesktopServices, "openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    window = MainWindow(tmp_path / "no models", tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    [action] = [a for a in help_menu.actions() if a.text() == "Open &log folder"]
    action.trigger()
    assert opened == [str(tmp_path / "logs")] and (tmp_path / "logs").is_dir()


def _window_without_model(qtbot, tmp_path, preferences) -> MainWindow:
    window = MainWindow(tmp_path / "no models", tmp_path / "results.sqlite3", preferences)
    qtbot.addWidget(window)
    with qtbot.waitActive(window):  # keys go to the active window only
        window.show()
        window.activateWindow()
    return window


@pytest.mark.parametrize("screen", [(1366, 728), (1280, 680), (1920, 1040)])
def test_first_start_geometry_fits_a_laptop_screen(screen):
    available = QRect(0, 40, *screen)  # e.g. a taskbar above
    geometry = first_start_geometry(available)
    assert available.contains(geometry)
    assert geometry.width() <= 1366 and geometry.height() <= 768 - 48
    assert geometry.center() == available.center()


def test_the_first_window_fits_1366x768_and_its_panels_fit_in_it(qtbot, tmp_path, preferences):
    window = _window_without_model(qtbot, tmp_path, preferences)
    frame = window.frameGeometry()
    assert frame.width() <= 1366 and frame.height() <= 768
    # Nothing forces the window past a laptop's screen: its least size fits too.
    minimum = window.minimumSizeHint()
    assert minimum.width() <= 1366 and minimum.height() <= 768 - 48


def test_f11_reads_full_screen_with_the_panels_hidden_and_esc_leaves(qtbot, tmp_path,
                                                                     preferences):
    window = _window_without_model(qtbot, tmp_path, preferences)
    window.tabs.setCurrentWidget(window.batch_tab)
    viewer, table = window.viewer_tab, window.batch_tab.worklist.table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_F11)  # from the worklist: the viewer comes forward
    qtbot.waitUntil(window.isFullScreen, timeout=5000)
    assert window.tabs.currentWidget() is viewer
    assert not window.menuBar().isVisible() and not window.tabs.tabBar().isVisible()
    assert not viewer.side_panel.isVisible()
    assert viewer.image_view.isVisible() and viewer.review_bar.isVisible()
    viewer.image_view.setFocus()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5000)
    assert window.menuBar().isVisible() and viewer.side_panel.isVisible()

    # Another tab's key while reading full screen: the window comes back with its tab bar.
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=5000)
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5000)
    assert window.tabs.currentWidget() is window.batch_tab
    assert window.tabs.tabBar().isVisible() and window.menuBar().isVisible()


def test_help_lists_every_key_the_window_binds(qtbot, tmp_path, preferences):
    window = _window_without_model(qtbot, tmp_path, preferences)
    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    listed = {keys for keys, _, _ in dialog.rows()}
    assert len(dialog.rows()) == len(shortcuts.ACTIONS) + len(shortcuts.MOUSE)
    native = QKeySequence.SequenceFormat.NativeText
    bound = [s.key().toString(native) for s in window.findChildren(QShortcut)]
    bound += [k.toString(native) for a in window.actions() for k in a.shortcuts()]
    assert bound and all(any(key in keys.split(" or ") for keys in listed) for key in bound), \
        sorted(set(bound))
    # Every row of the table works somewhere (Return on the worklist is the table's own).
    unbound = [row.name for row in shortcuts.ACTIONS
               if not set(shortcuts.keys_text(row.name).split(" or ")) & set(bound)]
    assert unbound == ["worklist_open"]
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert any(a.text() == "&Keyboard shortcuts" and a.shortcut() == QKeySequence("F1")
               for a in help_menu.actions())


def test_the_focused_control_is_framed(qtbot, tmp_path, preferences):
    window = _window_without_model(qtbot, tmp_path, preferences)
    assert window.styleSheet() == FOCUS_STYLE
    assert "QPushButton:focus" in FOCUS_STYLE and "#film_view:focus" in FOCUS_STYLE


def test_a_film_opened_from_the_worklist_steps_through_the_worklist(
    qtbot, tiny_models_dir, tmp_path, preferences, films
):
    window = _ready_window(qtbot, tiny_models_dir, tmp_path, preferences)
    with qtbot.waitSignal(window.batch_tab.scanFinished, timeout=60_000):
        window.open_argument(str(films))
    order = window.batch_tab.worklist_paths()
    table = window.batch_tab.worklist.table
    window.batch_tab.select_path(order[1])
    table.setFocus()
    with qtbot.waitSignal(window.viewer_tab.classified, timeout=30_000) as shown:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert shown.args == [order[1]] and window.tabs.currentWidget() is window.viewer_tab
    viewer = window.viewer_tab
    assert viewer.reading_order == "worklist"
    assert viewer.review_bar.panel.agree_button.isEnabled()
    viewer.image_view.setFocus()
    with qtbot.waitSignal(viewer.classified, timeout=30_000) as shown:
        qtbot.keyClick(viewer.image_view, Qt.Key.Key_A)
    assert shown.args == [order[2]]
    assert window.batch_tab.result_for_path(order[1]).review == "agree"
    # The viewer's case PDF of the reviewed film carries the window's details: the reader's
    # name (asked once), the review from the worklist's scan.
    from tests.core.test_pdf_report import pdf_text

    window.case_report_details.ask_reader = lambda: "Dr Reader"
    with qtbot.waitSignal(viewer.classified, timeout=30_000):
        qtbot.keyClick(viewer.image_view, Qt.Key.Key_PageUp)
    assert viewer.current_path == order[1]
    out = tmp_path / "case.pdf"
    with qtbot.waitSignal(viewer.caseReportWritten, timeout=60_000):
        assert viewer.export_case_pdf(out)
    text = pdf_text(out.read_bytes())
    assert "Dr Reader" in text and "not recorded" not in text
