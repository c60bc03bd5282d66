"""Watch this folder: once the scan's folder is done, each film copied into it is scanned into
the same scan and appears in the worklist live (short stability time here)."""

from __future__ import annotations

import shutil

import pytest

from pneumo_desktop.core.results import ScanState, ThresholdSource
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.site_settings import WatchSettings
from tests.ui.site_helpers import fake_classifier, write_film

TIMEOUT_MS = 30_000
QUICK = WatchSettings(settle_seconds=0.3)


@pytest.fixture
def batch(qtbot, make_inference, tmp_path):
    tab = BatchTab(make_inference(fake_classifier(tmp_path / "card")), tmp_path / "r.sqlite3")
    qtbot.addWidget(tab)
    yield tab
    tab.shutdown()


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "incoming"
    write_film(folder / "a.png", 0.9)
    write_film(folder / "b.png", 0.05)
    return folder


def _paths(batch) -> set[str]:
    """The films the worklist shows (its default filter shows every film)."""
    return set(batch.worklist_paths())


def test_a_film_copied_into_the_watched_folder_appears_in_the_worklist(
    qtbot, batch, folder, tmp_path
):
    controller = batch.scan_controller
    controller.set_watch(True, QUICK)
    with qtbot.waitSignal(controller.watchingChanged, timeout=TIMEOUT_MS) as watching:
        assert batch.start_scan(folder)
    assert watching.args == [True] and controller.is_watching
    assert controller.watched_folder == folder.resolve()
    assert _paths(batch) == {str(folder / "a.png"), str(folder / "b.png")}

    (folder / "half.png.partial").write_bytes(b"still copying")  # never taken for a film
    shutil.copy(write_film(tmp_path / "elsewhere" / "c.png", 0.7), folder / "c.png")
    qtbot.waitUntil(lambda: str(folder / "c.png") in _paths(batch), timeout=TIMEOUT_MS)
    row = batch.result_for_path(str(folder / "c.png"))
    assert row.probability == pytest.approx(0.7, abs=0.01)
    assert row.threshold_source is ThresholdSource.FACTORY and row.verdict is not None
    assert len(_paths(batch)) == 3  # the .partial was ignored

    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS) as finished:
        controller.set_watch(False)
    assert finished.args[1] == ScanState.COMPLETE and not controller.is_watching
    with ResultStore(tmp_path / "r.sqlite3") as store:
        info = store.scan(finished.args[0])
        assert info.state is ScanState.COMPLETE and info.done_files == 3


def test_switched_on_after_the_scan_the_scan_is_resumed_and_watched(
    qtbot, batch, folder, tmp_path
):
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        batch.start_scan(folder)
    write_film(folder / "meanwhile.png", 0.5)  # came while nothing watched
    controller = batch.scan_controller
    controller.set_watch(True, QUICK)
    with qtbot.waitSignal(controller.watchingChanged, timeout=TIMEOUT_MS):
        assert batch.resume_scan(batch.current_scan_id)
    assert str(folder / "meanwhile.png") in _paths(batch)
    write_film(folder / "later" / "d.png", 0.3)  # a new subfolder works too
    qtbot.waitUntil(lambda: str(folder / "later" / "d.png") in _paths(batch),
                    timeout=TIMEOUT_MS)
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        batch.cancel_scan()  # Cancel stops the watch; the folder's scan stays complete
    assert not controller.is_watching and len(_paths(batch)) == 4


def test_switched_on_during_a_scan_it_watches_once_the_folder_is_done(
    qtbot, batch, folder, tmp_path
):
    controller = batch.scan_controller
    with qtbot.waitSignal(controller.watchingChanged, timeout=TIMEOUT_MS):
        batch.start_scan(folder, batch_size=1)
        controller.set_watch(True, QUICK)
    write_film(folder / "e.png", 0.8)
    qtbot.waitUntil(lambda: str(folder / "e.png") in _paths(batch), timeout=TIMEOUT_MS)


def test_closing_while_watching_stops_the_watcher(qtbot, batch, folder):
    batch.scan_controller.set_watch(True, QUICK)
    with qtbot.waitSignal(batch.scan_controller.watchingChanged, timeout=TIMEOUT_MS):
        batch.start_scan(folder)
    batch.shutdown()
    assert not batch.is_scanning and not batch.scan_controller.is_watching
