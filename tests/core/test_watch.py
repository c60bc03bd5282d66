"""The folder watcher: films handed over once whole, partial/hidden files ignored, polling
where notifications do not work."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pneumo_desktop.core import watch
from pneumo_desktop.core.watch import FilmWatcher, is_film_candidate, is_network_folder
from tests.dicom_net import REPO, scu_app

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


# --------------------------------------------------------------------------- pneumo-scan --watch


def _synthetic_dicom_films(folder: Path, count: int, *, jpeg_index: int | None = None) -> None:
    from pydicom.uid import JPEGLosslessSV1

    from tests.conftest import synthetic_xray
    from tests.dicom_films import compress_dicom, make_dicom

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        data = make_dicom(None, synthetic_xray(rng, index % 2 == 0, size=128))
        if index == jpeg_index:
            data = compress_dicom(data, JPEGLosslessSV1)
        (folder / f"film{index}.dcm").write_bytes(data)


@pytest.mark.skipif(os.name != "posix", reason="stops the scan with SIGTERM")
def test_pneumo_scan_watch_records_each_film_sent_to_the_receiver(tmp_path, tiny_models_dir,
                                                                  start_receiver):
    to_send = tmp_path / "to_send"
    _synthetic_dicom_films(to_send, 3, jpeg_index=2)
    receiver = start_receiver("--allow", "XRAY1")
    db, out, scan_log = tmp_path / "r.sqlite3", tmp_path / "out.csv", tmp_path / "scan.log"
    with scan_log.open("w") as log_file:
        scan = subprocess.Popen(
            [sys.executable, "-m", "pneumo_desktop.cli", str(receiver.into), "--watch",
             "--settle", "0.5", "--db", str(db), "--out", str(out),
             "--models-dir", str(tiny_models_dir)],
            cwd=REPO, stderr=log_file, stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 300  # loading TensorFlow on a busy machine
            while "watching" not in scan_log.read_text():
                assert scan.poll() is None and time.monotonic() < deadline, scan_log.read_text()
                time.sleep(0.2)
            sent = scu_app("storescu", "127.0.0.1", str(receiver.port), str(to_send), "-r",
                           "-cx", "-aet", "XRAY1", "-aec", "PNEUMO")
            assert sent.returncode == 0, sent.stderr
            arrived: dict[str, float] = {}  # path -> when the .dcm was first seen
            recorded: dict[str, float] = {}
            deadline = time.monotonic() + 60
            while len(recorded) < 3 and time.monotonic() < deadline:
                now = time.monotonic()
                for path in receiver.into.rglob("*.dcm"):
                    arrived.setdefault(str(path), now)
                if db.exists():
                    with sqlite3.connect(db) as connection:
                        for (path,) in connection.execute("SELECT path FROM results"):
                            recorded.setdefault(path, now)
                time.sleep(0.1)
            assert len(recorded) == 3, scan_log.read_text()
            delays = {path: recorded[path] - arrived[path] for path in recorded}
            print("seconds from arrival to a recorded result:", sorted(delays.values()))
            assert max(delays.values()) < 15, delays  # each recorded within 15 s of arriving
            scan.send_signal(signal.SIGTERM)
            assert scan.wait(timeout=60) == 0, scan_log.read_text()
        finally:
            if scan.poll() is None:
                scan.kill()
    text = scan_log.read_text()
    assert "stopped watching after 3 new film(s)" in text
    rows = out.read_text().splitlines()
    assert len(rows) == 4 and all(",ok," in row for row in rows[1:]), rows


def test_pneumo_scan_dicom_out_writes_results_of_dicom_films_and_sends_them(
    tmp_path, tiny_models_dir
):
    from pneumo_desktop.core.receiver import ReceiverConfig, StorageReceiver

    folder = tmp_path / "films"
    _synthetic_dicom_films(folder, 2)
    (folder / "photo.png").write_bytes((tmp_path / "films" / "film0.dcm").read_bytes()[:10])
    results = tmp_path / "results"
    pacs = ReceiverConfig(tmp_path / "pacs", ae_title="PACS", port=0, bind="127.0.0.1")
    with StorageReceiver(pacs) as receiver:
        run = subprocess.run(
            [sys.executable, "-m", "pneumo_desktop.cli", str(folder), "--out",
             str(tmp_path / "out.csv"), "--models-dir", str(tiny_models_dir),
             "--dicom-out", str(results), "--pacs", f"PACS@127.0.0.1:{receiver.address[1]}"],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
    assert run.returncode == 0, run.stderr
    assert "DICOM results (SC + SR) of 2 film(s)" in run.stderr
    assert "2 sent to PACS@127.0.0.1" in run.stderr
    assert len(list(results.rglob("*.sc.dcm"))) == len(list(results.rglob("*.sr.dcm"))) == 2
    assert len(list((tmp_path / "pacs").rglob("*.dcm"))) == 4
    assert sorted(p.name for p in folder.iterdir()) == ["film0.dcm", "film1.dcm", "photo.png"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pacs", "PACS@host:104"], "--pacs needs --dicom-out"),
        (["--dicom-out", "{folder}/results"], "--dicom-out must be outside FOLDER"),
        (["--dicom-out", "{tmp}/r", "--pacs", "PACS:104"], "--pacs must look like"),
        # pynetdicom raised ValueError on these at the first send, mid-scan, ending the run
        (["--dicom-out", "{tmp}/r", "--pacs", "RADIOLOGY_ARCHIVE@pacs:104"], "not an AE title"),
        (["--dicom-out", "{tmp}/r", "--pacs", "PACS\\1@pacs:104"], "not an AE title"),
        (["--dicom-out", "{tmp}/r", "--pacs", "  @pacs:104"], "not an AE title"),
        (["--watch", "--settle", "-1"], "--settle must be"),
    ],
)
def test_pneumo_scan_refuses_bad_dicom_and_watch_options(tmp_path, capsys, options, message):
    from pneumo_desktop import runtime
    from pneumo_desktop.cli import EXIT_USAGE, scan_main

    folder = tmp_path / "films"
    folder.mkdir()
    options = [o.format(folder=folder, tmp=tmp_path) for o in options]
    try:
        status = scan_main([str(folder), "--out", str(tmp_path / "o.csv"), *options])
    finally:
        runtime.reset()
    assert status == EXIT_USAGE
    assert message in capsys.readouterr().err
