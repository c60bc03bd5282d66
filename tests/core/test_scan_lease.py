"""A scan another live process is scanning is never resumed; once that process is gone, it is."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import ResumeError, find_unfinished_scan, run_scan
from pneumo_desktop.core.scan_lease import (
    STALE_AFTER_SECONDS,
    ScanLease,
    pid_alive,
    running_elsewhere,
)
from pneumo_desktop.core.store import ResultStore, ScanRunner
from tests.conftest import REPO_ROOT, synthetic_xray

_HOLDER = """
import sys
from pneumo_desktop.core.scan_lease import ScanLease
with ScanLease(sys.argv[1], int(sys.argv[2]), interval=0.2):
    print("held", flush=True)
    sys.stdin.read()
"""


def hold_in_another_process(db: Path, scan_id: int) -> subprocess.Popen:
    """A second process that holds the scan's lease until its stdin closes."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db), str(scan_id)],
                              cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def stopped_scan(tmp_path, tiny_classifier) -> tuple[Path, Path, int]:
    """A scan of 5 films stopped after 2, left RUNNING (as after a crash)."""
    folder = tmp_path / "films"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(5):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0)).save(folder / f"f{index}.png")
    db = tmp_path / "r.sqlite3"
    with ResultStore(db) as store:
        items = run_scan(store, tiny_classifier, folder, batch_size=1)
        scan_id = next(items).scan_id
        next(items), next(items)
        assert store.scan(scan_id).runner.pid == os.getpid()  # held meanwhile
        assert not running_elsewhere(store.scan(scan_id))  # by this very process
        items.close()
        assert store.scan(scan_id).runner is None  # released when the scan stops
    return db, folder, scan_id


def test_a_scan_held_by_a_live_process_is_not_resumed_until_it_dies(stopped_scan,
                                                                     tiny_classifier):
    db, folder, scan_id = stopped_scan
    holder = hold_in_another_process(db, scan_id)
    try:
        with ResultStore(db) as store:
            info = find_unfinished_scan(store, folder)
            assert info.id == scan_id and running_elsewhere(info)
            assert info.runner.pid == holder.pid
            with pytest.raises(ResumeError, match=f"process {holder.pid}"):
                list(run_scan(store, tiny_classifier, resume_scan_id=scan_id))
            assert len(store.results(scan_id)) == 2  # nothing was scanned twice
    finally:
        holder.kill()  # as a crash: no release
        holder.wait(10)
    with ResultStore(db) as store:
        info = store.scan(scan_id)
        assert info.runner is not None and not running_elsewhere(info)  # its pid is dead
        items = list(run_scan(store, tiny_classifier, resume_scan_id=scan_id))
        assert items[-1].done == 5 and store.scan(scan_id).state == "complete"


def test_a_released_lease_and_a_stale_heartbeat_are_not_running(stopped_scan):
    db, _, scan_id = stopped_scan
    holder = hold_in_another_process(db, scan_id)
    holder.communicate("")  # the holder ends its lease and exits
    with ResultStore(db) as store:
        assert store.scan(scan_id).runner is None
        info = store.scan(scan_id)
    alive_elsewhere = replace(info, runner=ScanRunner(
        1, "another-machine", dt.datetime.now(dt.UTC)))
    assert running_elsewhere(alive_elsewhere)  # another machine: the heartbeat decides
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=STALE_AFTER_SECONDS + 1)
    assert not running_elsewhere(alive_elsewhere, now=later)


def test_pid_alive_and_a_private_store():
    assert pid_alive(os.getpid()) and not pid_alive(0)
    with ScanLease(":memory:", 1):  # nothing to hold, nothing fails
        pass
