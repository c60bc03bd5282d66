"""Sending results to a PACS: one C-STORE association per batch of files (pynetdicom SCU)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE

from .receiver import DEFAULT_AE_TITLE

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class DicomNode:
    """A PACS (or any Storage SCP) to send results to."""

    host: str
    port: int
    ae_title: str

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


class DicomSendError(RuntimeError):
    """Sending failed; the message names the node and the files."""


_SEND_OK = {0x0000, 0xB000, 0xB006, 0xB007}  # success, and the warnings that still store


def send_to_pacs(paths: Sequence[Path], node: DicomNode, *, calling_ae: str = DEFAULT_AE_TITLE,
                 timeout: float = 30.0) -> None:
    """C-STORE each file to ``node`` over one association; raises :class:`DicomSendError`
    when the node cannot be reached or refuses any of them."""
    datasets = [pydicom.dcmread(path) for path in paths]
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title)
    if not assoc.is_established:
        raise DicomSendError(f"could not send results to {node}: the node did not accept the "
                             "association (check its address, port and AE title, and that "
                             f"it accepts {calling_ae})")
    failed = []
    accepted = {str(context.abstract_syntax) for context in assoc.accepted_contexts}
    try:
        for path, dataset in zip(paths, datasets, strict=True):
            if str(dataset.SOPClassUID) not in accepted:  # e.g. a PACS that takes images only
                failed.append(f"{Path(path).name} (the node does not accept "
                              f"{dataset.SOPClassUID.name})")
                continue
            status = assoc.send_c_store(dataset)
            code = status.get("Status") if status else None
            if code not in _SEND_OK:
                failed.append(f"{Path(path).name} (status {'none' if code is None else hex(code)})")
    finally:
        if assoc.is_established:
            assoc.release()
    if failed:
        raise DicomSendError(f"{node} did not store {', '.join(failed)}")
    log.info("sent %d result object(s) to %s", len(datasets), node)
