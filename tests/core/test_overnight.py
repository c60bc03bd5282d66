"""The overnight scan loses nothing: killed with SIGKILL mid-scan, resumed, every file once."""

import csv
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import run_scan
from pneumo_desktop.core.store import ResultStore
from tests.conftest import REPO_ROOT, synthetic_xray

N_FILES = 160


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("overnight")
    rng = np.random.default_rng(9)
    for index in range(N_FILES):
        sub = folder / f"day{index % 3}"
        sub.mkdir(exist_ok=True)
        Image.fromarray(synthetic_xray(rng, index % 2 == 1, size=300)).save(sub / f"{index}.png")
    return folder


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_scan_killed_with_sigkill_resumes_without_loss_or_duplicates(
    big_folder, tiny_models_dir, tmp_path
):
    db, out = tmp_path / "results.sqlite3", tmp_path / "results.csv"
    command = [
        sys.executable, "-m", "pneumo_desktop.cli", str(big_folder), "--out", str(out),
        "--db", str(db), "--models-dir", str(tiny_models_dir), "--batch-size", "2",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _rows(db) < 10 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _rows(db)
    assert 10 <= killed_at < N_FILES, "the scan must be killed mid-way for this test to mean it"
    assert not out.exists()  # the CSV is only written by a finished scan
    first_times = dict(
        sqlite3.connect(db).execute("SELECT path, scanned_at FROM results").fetchall()
    )

    resumed = subprocess.run(
        [*command, "--resume"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming scan" in resumed.stderr
    connection = sqlite3.connect(db)
    total, distinct = connection.execute(
        "SELECT COUNT(*), COUNT(DISTINCT path) FROM results"
    ).fetchone()
    assert total == distinct == N_FILES
    # Files finished before the kill were not run again.
    again = dict(connection.execute("SELECT path, scanned_at FROM results").fetchall())
    assert all(again[path] == when for path, when in first_times.items())
    assert connection.execute("SELECT state FROM scans").fetchall() == [("complete",)]
    with out.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == N_FILES


def test_a_scan_opens_no_network_connection(big_folder, tiny_classifier, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the scan tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with ResultStore(tmp_path / "r.sqlite3") as store:
        items = list(run_scan(store, tiny_classifier, big_folder, batch_size=16))
    assert items[-1].done == N_FILES
    assert all(item.result.status == "ok" for item in items[1:])
