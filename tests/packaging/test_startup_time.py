"""``pneumo-desktop --startup-time``, which the window tests of the bundle run: it ends with a
non-zero status as soon as the model is refused, instead of waiting on the window's message
box until the test's timeout."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.packaging.conftest import app_env

PROMPT_S = 60  # the model is refused in ~1 s; a hang would run into the test's timeout


def test_a_refused_model_ends_startup_time_with_status_1(tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.app", "--startup-time", "--models-dir", str(empty),
         "--db", str(tmp_path / "results.sqlite3")],
        capture_output=True,
        text=True,
        timeout=PROMPT_S * 2,
        cwd=REPO_ROOT,
        env=app_env(HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen"),
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "window visible after" in done.stdout
    assert "model loaded after" not in done.stdout
    assert f"model card not found: {empty}" in done.stderr
    assert "model refused after" in done.stderr
    assert took < PROMPT_S, f"{took:.0f} s to give up on a refused model"


def _modules_after(script: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", script + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    return set(done.stdout.split())


def test_pydicom_is_imported_only_when_a_dicom_file_is_read(tmp_path):
    """The self-test's ≤ 2 s (issue 11): pydicom and its decoder plugins cost about a second of
    import, which a start reading PNG or JPEG films does not pay."""
    from tests.dicom_films import make_dicom

    png, dcm = tmp_path / "film.png", tmp_path / "film"  # DICOM known by content, no suffix
    Image.fromarray(np.full((64, 48), 90, np.uint8)).save(png)
    make_dicom(dcm, np.full((64, 48), 700, np.uint16))
    reading = "from pneumo_desktop.core import imaging, model\n"
    plain = _modules_after(reading + f"imaging.load_image({str(png)!r})\n"
                           f"assert not imaging.is_image_file({str(tmp_path)!r})")  # fmt: skip
    assert "pydicom" not in plain
    assert "pneumo_desktop.core.imaging" in plain
    dicom = _modules_after(reading + f"assert imaging.is_image_file({str(dcm)!r})\n"
                           f"print(imaging.load_image({str(dcm)!r}).format)")  # fmt: skip
    assert "pydicom" in dicom


def test_the_window_s_modules_import_neither_pydicom_nor_pynetdicom():
    """The window's settings name the receiver and the audit keys films by SOP Instance UID,
    but pydicom and pynetdicom (~0.45 s of imports here) load only when a receiver starts or a
    DICOM file is read, not at every start."""
    modules = _modules_after("import pneumo_desktop.ui.main_window")
    assert {"pneumo_desktop.ui.main_window", "pneumo_desktop.core.receiver",
            "pneumo_desktop.core.identity", "pneumo_desktop.core.dicom_context"} <= modules
    assert "pydicom" not in modules and "pynetdicom" not in modules
