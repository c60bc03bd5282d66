"""The DICOM receiver over loopback: pynetdicom's storescu/echoscu against ``pneumo-receive``
run as its own process, as a clinic runs it."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEGLosslessSV1
from pynetdicom import AE
from pynetdicom.sop_class import ComputedRadiographyImageStorage

from pneumo_desktop.core.receiver import (
    ReceiverConfig,
    StorageReceiver,
    is_uid,
    remove_stale_partials,
)
from tests.dicom_films import compress_dicom, make_dicom
from tests.dicom_net import scu_app

CALLED = "PNEUMO"


# --------------------------------------------------------------------------- films


def film_pixels(rows: int = 96, cols: int = 80, seed: int = 0) -> np.ndarray:
    """12-bit CR-like pixels: a gradient with noise, so compression has work to do."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(300, 3800, rows * cols).reshape(rows, cols)
    return np.clip(ramp + rng.normal(0, 40, ramp.shape), 0, 4095).astype(np.uint16)


def write_film(path: Path, *, seed: int = 0, rows: int = 96, cols: int = 80,
               jpeg: bool = False) -> Path:
    """A CR film with new study/series/instance UIDs; ``jpeg``: re-encoded as JPEG Lossless
    SV1 (python-gdcm), as many CR units send."""
    data = make_dicom(None, film_pixels(rows, cols, seed), PatientOrientation=["L", "F"],
                      AccessionNumber="ACC1", ReferringPhysicianName="")
    path.write_bytes(compress_dicom(data, JPEGLosslessSV1) if jpeg else data)
    return path


@pytest.fixture()
def three_films(tmp_path) -> Path:
    folder = tmp_path / "to_send"
    folder.mkdir()
    write_film(folder / "a.dcm", seed=1)
    write_film(folder / "b.dcm", seed=2, rows=128, cols=100)
    write_film(folder / "c.dcm", seed=3, jpeg=True)
    assert pydicom.dcmread(folder / "c.dcm").file_meta.TransferSyntaxUID == JPEGLosslessSV1
    return folder


# --------------------------------------------------------------------------- processes


def received_files(folder: Path) -> dict[str, Path]:
    """SOP Instance UID -> stored file, for every complete ``.dcm`` under ``folder``."""
    return {path.stem: path for path in folder.rglob("*.dcm")}


# --------------------------------------------------------------------------- tests


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_three_films_and_an_echo_over_loopback(start_receiver, three_films):
    receiver = start_receiver("--ae-title", CALLED)
    sent = scu_app("storescu", "127.0.0.1", str(receiver.port), str(three_films), "-r", "-cx",
                   "-aet", "XRAY1", "-aec", CALLED)
    assert sent.returncode == 0, sent.stderr
    echo = scu_app("echoscu", "127.0.0.1", str(receiver.port), "-aec", CALLED, "-aet", "XRAY1")
    assert echo.returncode == 0, echo.stderr
    receiver.wait_for(r"C-ECHO from 'XRAY1'")
    receiver.wait_for(r"association from 'XRAY1' at 127\.0\.0\.1:\d+ released: 3 object")
    assert receiver.terminate() == 0  # SIGTERM: a clean stop
    assert "stopped after storing 3 object(s)" in receiver.text()

    stored = received_files(receiver.into)
    assert not list(receiver.into.rglob("*.partial"))
    assert len(stored) == 3
    for source_path in sorted(three_films.iterdir()):
        source = pydicom.dcmread(source_path)
        path = stored[source.SOPInstanceUID]
        assert path.parent.name == source.StudyInstanceUID  # one folder per study
        copy = pydicom.dcmread(path)
        # Stored as received: same transfer syntax, same dataset, pixel data byte for byte.
        assert copy.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
        assert copy.file_meta.MediaStorageSOPInstanceUID == source.SOPInstanceUID
        assert copy == source
        assert copy.PixelData == source.PixelData
        np.testing.assert_array_equal(copy.pixel_array, source.pixel_array)


def test_the_allow_list_refuses_an_unknown_calling_ae(start_receiver, three_films):
    receiver = start_receiver("--allow", "XRAY1", "XRAY2")
    refused = scu_app("storescu", "127.0.0.1", str(receiver.port), str(three_films), "-r",
                      "-cx", "-aet", "INTRUDER", "-aec", CALLED)
    assert refused.returncode != 0  # storescu exits 1 when the association is rejected
    receiver.wait_for(r"association from 'INTRUDER' .* rejected")
    assert received_files(receiver.into) == {}
    allowed = scu_app("storescu", "127.0.0.1", str(receiver.port), str(three_films), "-r",
                      "-cx", "-aet", "XRAY2", "-aec", CALLED)
    assert allowed.returncode == 0, allowed.stderr
    receiver.wait_for(r"'XRAY2' .* released: 3 object")
    assert len(received_files(receiver.into)) == 3


def _send_in_background(port: int, film: Path) -> threading.Thread:
    def send() -> None:
        ae = AE(ae_title="XRAY1")
        ae.add_requested_context(ComputedRadiographyImageStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title=CALLED)
        if assoc.is_established:
            try:
                assoc.send_c_store(pydicom.dcmread(film))
            finally:
                assoc.abort()  # the peer is being killed: don't wait for a release reply

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


# The receiver as pneumo-receive runs it, with one change: fsync of a film takes 30 s, which
# holds the receiver inside the write, between "….partial written" and "renamed to .dcm".
SLOW_FSYNC_LAUNCHER = """
import os, sys, time
real_fsync = os.fsync
def slow_fsync(fd):
    time.sleep(30)
    real_fsync(fd)
os.fsync = slow_fsync
from pneumo_desktop.receive_cli import receive_main
sys.exit(receive_main(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_while_writing_leaves_only_a_partial(start_receiver, tmp_path):
    film = write_film(tmp_path / "big.dcm", rows=1024, cols=1024)
    receiver = start_receiver(launcher=SLOW_FSYNC_LAUNCHER)
    sender = _send_in_background(receiver.port, film)
    deadline = time.monotonic() + 30
    while not list(receiver.into.rglob("*.dcm.partial")):
        assert time.monotonic() < deadline, receiver.text()
        time.sleep(0.02)
    receiver.kill()
    sender.join(timeout=60)  # its "connection closed" is logged while this test still runs
    assert [p.name.endswith(".dcm.partial") for p in receiver.into.rglob("*") if p.is_file()] \
        == [True]
    assert received_files(receiver.into) == {}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3])  # before, during, after the ~0.2 s send
def test_killed_at_any_moment_leaves_no_incomplete_dcm(start_receiver, tmp_path, delay):
    film = write_film(tmp_path / "big.dcm", rows=2048, cols=2048)  # 8 MB of pixels
    expected = pydicom.dcmread(film)
    receiver = start_receiver()
    sender = _send_in_background(receiver.port, film)
    receiver.wait_for("association from 'XRAY1'")
    time.sleep(delay)
    receiver.kill()
    sender.join(timeout=60)
    for path in received_files(receiver.into).values():  # whatever landed is the whole film
        assert pydicom.dcmread(path).PixelData == expected.PixelData


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_the_receiver_opens_only_its_listening_port(start_receiver):
    receiver = start_receiver()
    pid = receiver.process.pid
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    sockets = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                sockets.append((table, fields[1], fields[3]))
    listen = "0A"
    loopback_port = f"0100007F:{receiver.port:04X}"
    assert sockets == [("tcp", loopback_port, listen)], sockets
    assert len(inodes) == 1


def test_in_process_receiver_stores_and_counts(tmp_path):
    film = write_film(tmp_path / "film.dcm")
    config = ReceiverConfig(tmp_path / "in", port=0, bind="127.0.0.1")
    with StorageReceiver(config) as receiver:
        ae = AE(ae_title="XRAY1")
        ae.add_requested_context(ComputedRadiographyImageStorage)
        assoc = ae.associate("127.0.0.1", receiver.address[1], ae_title=CALLED)
        assert assoc.is_established
        status = assoc.send_c_store(pydicom.dcmread(film))
        assoc.release()
        assert status.Status == 0x0000
        assert receiver.stored == 1
    assert list(received_files(tmp_path / "in")) == [pydicom.dcmread(film).SOPInstanceUID]


def test_uids_are_digits_and_dots_only():
    assert is_uid("1.2.840.10008.5.1.4.1.1.1")
    for bad in ("", "../../etc/passwd", "1.2.3/4", "1..2", "1.2.", "1" * 65, None, "1.2.a"):
        assert not is_uid(bad)


def test_stale_partials_are_removed_at_start_young_ones_kept(tmp_path):
    old = tmp_path / "study" / "1.2.3.dcm.partial"
    old.parent.mkdir()
    old.write_bytes(b"half a film")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    young = tmp_path / "1.2.4.dcm.partial"
    young.write_bytes(b"being written")
    assert remove_stale_partials(tmp_path) == 1
    assert not old.exists() and young.exists()
