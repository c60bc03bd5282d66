"""``pneumo-desktop --startup-time``, which the window tests of the bundle run: it ends with a
non-zero status as soon as the model is refused, instead of waiting on the window's message
box until the test's timeout."""

from __future__ import annotations

import subprocess
import sys
import time

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
