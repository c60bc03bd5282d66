"""The scan policies of core.batch: end states, rate and ETA, and finding the scan to resume."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import ScanProgress, find_unfinished_scan, run_scan
from pneumo_desktop.core.results import ScanState
from pneumo_desktop.core.store import ResultStore
from tests.conftest import synthetic_xray


def write_films(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(4)
    for index in range(count):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0)).save(folder / f"film{index}.png")
    return folder


@pytest.fixture
def store(tmp_path):
    with ResultStore(tmp_path / "r.sqlite3") as store:
        yield store


def test_rate_and_eta_are_of_this_run_only():
    starting = ScanProgress(scan_id=1, done=40, total=100, result=None)
    assert starting.rate is None and starting.eta is None
    # A resumed scan: 40 files were done before, 20 scanned now in 10 s.
    item = ScanProgress(1, 60, 100, None, scanned=20, elapsed=10.0)
    assert item.rate == pytest.approx(2.0) and item.eta == pytest.approx(20.0)
    assert ScanProgress(1, 100, 100, None, scanned=60, elapsed=30.0).eta == 0.0


def test_a_complete_scan_counts_its_own_files_and_ends_complete(store, tmp_path,
                                                                tiny_classifier):
    items = list(run_scan(store, tiny_classifier, write_films(tmp_path / "day", 5),
                          batch_size=2))
    assert [item.scanned for item in items] == [0, 1, 2, 3, 4, 5]
    elapsed = [item.elapsed for item in items[1:]]
    assert elapsed == sorted(elapsed) and items[-1].rate > 0 and items[-1].eta == 0.0
    assert store.scan(items[0].scan_id).state is ScanState.COMPLETE


def test_the_users_cancel_ends_the_scan_cancelled_however_the_consumer_stops(
    store, tmp_path, tiny_classifier
):
    folder = write_films(tmp_path / "night", 6)
    # The command line's way: the loop runs on, the scan stops at the next batch.
    cancel = threading.Event()
    items = []
    for item in run_scan(store, tiny_classifier, folder, batch_size=2, cancel=cancel):
        items.append(item)
        if item.done == 1:
            cancel.set()
    assert items[-1].done == 2 < items[-1].total
    assert store.scan(items[0].scan_id).state is ScanState.CANCELLED
    # The app's way: Cancel, then the worker closes the generator at the next item.
    cancel = threading.Event()
    generator = run_scan(store, tiny_classifier, folder, batch_size=2, cancel=cancel)
    first = next(generator)
    next(generator)
    cancel.set()
    generator.close()
    assert store.scan(first.scan_id).state is ScanState.CANCELLED


def test_closed_without_cancel_it_stays_running_and_is_found_for_its_folder(
    store, tmp_path, tiny_classifier
):
    folder, other = write_films(tmp_path / "ward a", 4), write_films(tmp_path / "ward b", 2)
    assert find_unfinished_scan(store, folder) is None
    for _ in range(2):  # two interrupted scans of the same folder: the newer one is found
        generator = run_scan(store, tiny_classifier, folder, batch_size=1)
        first = next(generator)
        next(generator)
        generator.close()  # the app closing, or a consumer that stopped
    list(run_scan(store, tiny_classifier, other))  # complete: nothing to resume there
    found = find_unfinished_scan(store, folder)
    assert found.id == first.scan_id and found.state is ScanState.RUNNING
    assert found.done_files == 1
    # Found by the resolved path, however the folder is spelt.
    assert find_unfinished_scan(store, tmp_path / "ward b" / ".." / "ward a").id == found.id
    assert find_unfinished_scan(store, other) is None

    items = list(run_scan(store, tiny_classifier, resume_scan_id=found.id))
    assert (items[0].done, items[0].scanned, items[-1].scanned) == (1, 0, 3)
    assert store.scan(found.id).state is ScanState.COMPLETE
