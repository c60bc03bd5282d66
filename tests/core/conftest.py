"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from tests.dicom_net import ReceiverProcess


@pytest.fixture()
def start_receiver(tmp_path):
    """``start(*options)`` runs pneumo-receive on a free loopback port (see
    :class:`tests.dicom_net.ReceiverProcess`); whatever is still running is killed after."""
    started: list[ReceiverProcess] = []

    def start(*extra: str, launcher: str | None = None) -> ReceiverProcess:
        into = tmp_path / f"received{len(started)}"
        receiver = ReceiverProcess(into, tmp_path / f"receiver{len(started)}.log", *extra,
                                   launcher=launcher)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        if receiver.process.poll() is None:
            receiver.kill()
