"""Extensionless DICOM in the viewer: Previous/Next walk into it and the Open dialog shows it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.ui.film_corners import Corner
from pneumo_desktop.ui.main_window import MainWindow
from pneumo_desktop.ui.viewer_tab import ViewerTab, folder_images
from tests.conftest import synthetic_xray
from tests.dicom_films import make_dicom

TIMEOUT_MS = 60_000


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """a.png, IM000002 (DICOM, no suffix), DICOMDIR (index, no film), notes (text)."""
    pixels = synthetic_xray(np.random.default_rng(5), False, size=128)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    make_dicom(tmp_path / "IM000002", pixels.astype(np.uint16) * 16, PatientID="P-7")
    make_dicom(tmp_path / "DICOMDIR", None)
    (tmp_path / "notes").write_text("not an image")
    return tmp_path


def test_folder_images_include_extensionless_dicom(folder):
    assert [p.name for p in folder_images(folder)] == ["a.png", "IM000002"]


def test_next_walks_into_an_extensionless_dicom(qtbot, folder, loading_inference):
    tab = ViewerTab(loading_inference)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS):
        tab.open_path(folder / "a.png")
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.show_next()
    assert loaded.args == [str(folder / "IM000002")]
    assert "ID P-7" in tab.corners.text(Corner.TOP_LEFT)


def test_open_dialog_shows_files_without_a_suffix_first(monkeypatch, tmp_path):
    asked, opened = [], []

    def fake_dialog(parent, caption, start, filters):
        asked.append(filters)
        return str(tmp_path / "IM000002"), ""

    class Window:  # only what choose_image uses; the whole window would load a model
        preferences = SimpleNamespace(last_image_folder=tmp_path)
        open_in_viewer = staticmethod(opened.append)

    monkeypatch.setattr("pneumo_desktop.ui.main_window.QFileDialog.getOpenFileName", fake_dialog)
    MainWindow.choose_image(Window())
    first_filter, *others = asked[0].split(";;")
    assert first_filter.endswith("(*)")  # every name, so IM000002 is listed by default
    assert any("*.dcm" in other for other in others)
    assert opened == [str(tmp_path / "IM000002")]
