"""Typed preferences over QSettings: defaults, round trips, and stored values that do not
convert (INI strings, older versions' values) read as the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QSettings

from pneumo_desktop.ui.preferences import LimeSettings, Preferences


@pytest.fixture
def ini(tmp_path) -> Path:
    return tmp_path / "settings.ini"


def reopened(ini: Path) -> Preferences:
    return Preferences(QSettings(str(ini), QSettings.Format.IniFormat))


def test_defaults_before_anything_is_stored(ini):
    preferences = reopened(ini)
    assert preferences.window_geometry is None and preferences.last_image_folder is None
    assert preferences.last_scan_folder is None and preferences.lime == LimeSettings(1000, 8)


def test_values_survive_a_restart(ini, tmp_path):
    preferences = reopened(ini)
    preferences.window_geometry = QByteArray(b"\x01\x02geometry")
    preferences.last_image_folder = tmp_path / "films"
    preferences.lime = LimeSettings(300, 5)
    preferences.sync()
    again = reopened(ini)
    assert again.window_geometry == QByteArray(b"\x01\x02geometry")
    assert again.last_image_folder == tmp_path / "films"
    assert again.lime == LimeSettings(300, 5)
    again.last_image_folder = None  # forgotten
    assert again.last_image_folder is None


def test_unreadable_values_read_as_their_default(ini, caplog):
    raw = QSettings(str(ini), QSettings.Format.IniFormat)
    raw.setValue("lime", {"num_samples": "2000", "num_features": "x"})  # strings, as INI gives
    raw.setValue("window/geometry", "not bytes")
    raw.setValue("last_scan_folder", "")
    raw.sync()
    preferences = reopened(ini)
    assert preferences.lime == LimeSettings(2000, 8)  # the good key kept, the bad one default
    assert preferences.window_geometry is None and preferences.last_scan_folder is None
    assert "window/geometry unreadable" in caplog.text
    assert LimeSettings.from_value("garbage") == LimeSettings()
