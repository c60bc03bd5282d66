"""The folder watcher: films handed over once whole, partial/hidden files ignored, polling
where notifications do not work."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pneumo_desktop.core import watch
from pneumo_desktop.core.watch import FilmWatcher, is_film_candidate, is_network_folder

SETTLE = 0.6


def wait_for_films(watcher: FilmWatcher, count: int, timeout: float = 10.0) -> list[Path]:
    films: list[Path] = []
    deadline = time.monotonic() + timeout
    while len(films) < count and time.monotonic() < deadline:
        films += watcher.ready(timeout=deadline - time.monotonic())
    return films


@pytest.fixture(params=["native", "polling"])
def watcher(request, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    polling = request.param == "polling"
    with FilmWatcher(folder, settle_seconds=SETTLE, polling=polling, poll_interval=0.1) as w:
        assert w.polling is polling
        yield w


def test_a_growing_film_is_handed_over_once_it_is_stable(watcher):
    film = watcher.folder / "chest.jpg"
    with film.open("wb") as stream:
        stream.write(b"\xff\xd8\xff" + b"x" * 1000)
        stream.flush()
        for _ in range(4):  # still being copied: a write every SETTLE / 2
            time.sleep(SETTLE / 2)
            stream.write(b"y" * 1000)
            stream.flush()
            assert watcher.ready() == []
    last_write = time.monotonic()
    assert wait_for_films(watcher, 1) == [film]
    assert time.monotonic() - last_write >= SETTLE
    assert watcher.ready(timeout=2 * SETTLE) == []  # once only


def test_partial_hidden_and_foreign_files_are_ignored(watcher):
    folder = watcher.folder
    (folder / "1.2.3.dcm.partial").write_bytes(b"half")
    (folder / ".hidden.dcm").write_bytes(b"x")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "film.dcm").write_bytes(b"x")
    (folder / "notes.txt").write_text("not a film")
    (folder / "1.2.4.dcm.partial").write_bytes(b"whole now")
    os.replace(folder / "1.2.4.dcm.partial", folder / "1.2.4.dcm")  # the receiver's rename
    assert wait_for_films(watcher, 2, timeout=4 * SETTLE) == [folder / "1.2.4.dcm"]


def test_a_study_folder_moved_in_is_handed_over_whole(watcher, tmp_path):
    outside = tmp_path / "study"
    (outside / "series").mkdir(parents=True)
    for name in ("a.dcm", "series/b.png", "series/c.jpeg"):
        (outside / name).write_bytes(b"film " + name.encode())
    shutil.move(outside, watcher.folder / "study")
    found = wait_for_films(watcher, 3)
    assert sorted(p.relative_to(watcher.folder).as_posix() for p in found) == [
        "study/a.dcm", "study/series/b.png", "study/series/c.jpeg"]


def test_a_film_that_changes_again_is_handed_over_again(watcher):
    film = watcher.folder / "film.png"
    film.write_bytes(b"first")
    assert wait_for_films(watcher, 1) == [film]
    film.write_bytes(b"second, longer")
    assert wait_for_films(watcher, 1) == [film]


def test_films_generator_stops_when_asked(watcher):
    stop = threading.Event()
    found: list[Path] = []

    def consume() -> None:
        for film in watcher.films(stop):
            found.append(film)

    thread = threading.Thread(target=consume)
    thread.start()
    (watcher.folder / "x.dcm").write_bytes(b"film")
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert found == [watcher.folder / "x.dcm"]


def test_falls_back_to_polling_when_notifications_cannot_start(tmp_path, monkeypatch, caplog):
    class BrokenObserver(watch.PollingObserver):
        def start(self):
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watch, "Observer", BrokenObserver)
    with FilmWatcher(tmp_path, settle_seconds=0.2, poll_interval=0.1) as watcher:
        assert watcher.polling is True
        (tmp_path / "film.bmp").write_bytes(b"BM film")
        assert wait_for_films(watcher, 1) == [tmp_path / "film.bmp"]
    assert "polling every" in caplog.text
    with pytest.raises(OSError):  # polling=False: the native observer or nothing
        FilmWatcher(tmp_path, polling=False).start()


def test_a_network_share_is_polled(tmp_path, monkeypatch):
    monkeypatch.setattr(watch, "is_network_folder", lambda folder: True)
    with FilmWatcher(tmp_path, settle_seconds=0.2, poll_interval=0.1) as watcher:
        assert watcher.polling is True


def test_network_folders_are_recognised_from_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "server:/export /mnt/pacs nfs4 rw 0 0\n"
        "//clinic/xrays /mnt/x\\040rays cifs rw 0 0\n"
        "/dev/sdb1 /mnt/pacs/local ext4 rw 0 0\n"
    )
    assert is_network_folder(Path("/mnt/pacs/today"), mounts)
    assert is_network_folder(Path("/mnt/x rays/2024"), mounts)
    assert not is_network_folder(Path("/mnt/pacs/local/today"), mounts)  # longest mount wins
    assert not is_network_folder(Path("/mnt/pacsother"), mounts)
    assert not is_network_folder(Path("/home/clinic"), mounts)


def test_candidates_are_what_the_scanner_reads(tmp_path):
    assert is_film_candidate(tmp_path / "a" / "film.DCM", tmp_path)
    assert not is_film_candidate(tmp_path / "film.dcm.partial", tmp_path)
    assert not is_film_candidate(tmp_path / ".trash" / "film.dcm", tmp_path)
    assert not is_film_candidate(tmp_path / "film.txt", tmp_path)
    assert not is_film_candidate(tmp_path.parent / "film.dcm", tmp_path)  # outside the folder


def test_arrivals_are_scanned_into_the_open_scan_without_a_socket(
    tmp_path, tiny_classifier, monkeypatch
):
    import socket

    from PIL import Image

    from pneumo_desktop.core.store import ResultStore
    from pneumo_desktop.core.watch import scan_arrivals
    from tests.conftest import synthetic_xray

    def refuse(*args, **kwargs):
        raise AssertionError("watching tried to open a network socket")

    folder = tmp_path / "incoming"
    folder.mkdir()
    rng = np.random.default_rng(0)
    with ResultStore(tmp_path / "r.sqlite3") as store, \
            FilmWatcher(folder, settle_seconds=0.3) as watcher:
        monkeypatch.setattr(socket, "socket", refuse)
        monkeypatch.setattr(socket, "create_connection", refuse)
        scan_id = store.start_scan(folder, tiny_classifier.card, 0)
        stop = threading.Event()
        deadman = threading.Timer(60, stop.set)  # a broken watcher fails the test, not hangs it
        deadman.start()
        arrivals = scan_arrivals(store, tiny_classifier, scan_id, watcher, stop=stop)
        written = {}
        for index in range(3):
            film = folder / f"film{index}.png"
            Image.fromarray(synthetic_xray(rng, index % 2 == 1)).save(film)
            written[film] = time.monotonic()
            result = next(arrivals, None)
            assert result is not None, "the film was not scanned"
            assert result.path == str(film) and result.status == "ok"
            assert time.monotonic() - written[film] < 15  # recorded within 15 s of arriving
            assert store.scan(scan_id).done_files == index + 1
        stop.set()
        deadman.cancel()
        assert list(arrivals) == []  # stops when asked
        assert store.scan(scan_id).total_files == 3
        # A film handed over again unchanged is not scanned twice.
        assert store.pending_files(scan_id, list(written)) == []


def test_the_overnight_listing_and_the_watcher_agree_on_partial_and_extensionless(tmp_path):
    from pneumo_desktop.core.scan import list_images
    from tests.dicom_films import make_dicom

    data = make_dicom(None, np.zeros((8, 8), np.uint8))
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "1.2.3.dcm.partial").write_bytes(data)  # the receiver, mid-write
    (tmp_path / "study" / "1.2.4").write_bytes(data)  # a film without a suffix, as PACS export
    assert list_images(tmp_path) == [tmp_path / "study" / "1.2.4"]
    assert [p.name for p in (tmp_path / "study").iterdir() if is_film_candidate(p, tmp_path)] \
        == ["1.2.4"]
