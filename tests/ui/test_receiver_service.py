"""The app's DICOM receiver: its state in one line for the status bar, films counted per day,
a port in use said in words, stopped cleanly."""

from __future__ import annotations

import socket

import numpy as np
import pydicom
import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ComputedRadiographyImageStorage

from pneumo_desktop.ui.receiver_service import OFF_TEXT, ReceiverService
from pneumo_desktop.ui.site_settings import ReceiverSettings
from tests.dicom_films import make_dicom

TIMEOUT_MS = 15_000
FILM = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)


def send_film(port: int, path, calling_ae: str = "XRAY1") -> int:
    """C-STORE one film to the receiver on loopback; the response status."""
    make_dicom(path, FILM)
    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(ComputedRadiographyImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="PNEUMO")
    assert assoc.is_established
    try:
        return assoc.send_c_store(pydicom.dcmread(path)).Status
    finally:
        assoc.release()


def loopback(tmp_path, **changes) -> ReceiverSettings:
    values = dict(enabled=True, port=0, bind="127.0.0.1", folder=tmp_path / "received")
    values.update(changes)
    return ReceiverSettings(**values)


@pytest.fixture
def service(qtbot):
    receiver = ReceiverService()
    yield receiver
    receiver.stop()


def test_it_listens_and_counts_todays_films_including_earlier_ones(qtbot, service, tmp_path):
    earlier = tmp_path / "received" / "1.2.3"
    earlier.mkdir(parents=True)
    make_dicom(earlier / "1.2.3.4.dcm", FILM)  # received this morning, before a restart
    with qtbot.waitSignal(service.stateChanged, timeout=TIMEOUT_MS):
        assert service.apply(loopback(tmp_path))
    port = service.address[1]
    assert service.text == f"Receiving on 127.0.0.1:{port} — 1 film today"
    with qtbot.waitSignal(service.filmReceived, timeout=TIMEOUT_MS) as received:
        assert send_film(port, tmp_path / "film.dcm") == 0x0000
    assert received.args == [2]
    assert service.text == f"Receiving on 127.0.0.1:{port} — 2 films today"
    assert len(list((tmp_path / "received").rglob("*.dcm"))) == 2


def test_a_port_in_use_is_said_in_words_and_nothing_listens(qtbot, service, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not service.apply(loopback(tmp_path, port=port))
    assert service.text == f"Receiver stopped: port {port} is in use (another receiver or program)"
    assert not service.is_running


def test_bad_settings_are_named_and_disabled_means_off(qtbot, service, tmp_path):
    assert not service.apply(loopback(tmp_path, ae_title="A TITLE THAT IS TOO LONG"))
    assert service.text.startswith("Receiver stopped: The AE title must be 1 to 16")
    assert not service.apply(loopback(tmp_path, enabled=False))
    assert service.text == OFF_TEXT


def test_stop_closes_the_port(qtbot, service, tmp_path):
    assert service.apply(loopback(tmp_path))
    port = service.address[1]
    service.stop()
    assert service.text == OFF_TEXT and not service.is_running
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
