"""Who made a verdict and on which film: the model's identity (name, version, sha256 of its
file) and a film's (sha256 of its bytes, and its SOP Instance UID when it is DICOM).

The audit trail and the DICOM results both record these, so they are worked out in one place.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .dicom_preamble import read_dicom_header


@dataclass(frozen=True)
class ModelIdentity:
    """The model that made a verdict, as its card names it."""

    name: str
    version: str
    sha256: str

    @classmethod
    def from_card(cls, card) -> "ModelIdentity":
        """From a model card (``name``, ``version``, and the model file's ``sha256``)."""
        from .store import model_sha256  # the one place the app reads the sha256 of a card

        return cls(str(card.name), str(card.version), str(model_sha256(card)))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in chunks (a film can be tens of MB)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def sop_instance_uid(path: str | os.PathLike[str]) -> str | None:
    """The SOP Instance UID of a DICOM file, or None for any other file (or an unreadable
    one). Only the header is read."""
    dataset = read_dicom_header(path, ["SOPInstanceUID"])
    if dataset is None:
        return None
    raw = dataset.get_item(0x00080018)  # SOP Instance UID, as read: before any conversion
    if raw is None or len(raw.value or b"") < raw.length:  # the file ends inside the value
        return None
    uid = dataset.get("SOPInstanceUID")
    return str(uid) if uid else None
