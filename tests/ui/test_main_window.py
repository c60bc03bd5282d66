from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from pneumo_desktop.ui.main_window import MainWindow
from pneumo_desktop.ui.preferences import LimeSettings, Preferences
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
