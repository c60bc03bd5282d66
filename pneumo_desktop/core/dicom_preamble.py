"""Recognising a DICOM file by its preamble, without pydicom: :mod:`.imaging` asks this of
every file it lists, and importing pydicom with its decoder plugins takes about a second that a
start reading no DICOM (the self-test, PNG and JPEG films) should not pay. :mod:`.dicom`
re-exports these names."""

from __future__ import annotations

import logging
import os
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

log = logging.getLogger(__name__)

PREAMBLE_LENGTH = 132  # 128 bytes of preamble, then "DICM"
DICOMDIR_NAME = "DICOMDIR"  # the index of a DICOM CD/USB stick: no image itself
_ISO_9660_VERSION = re.compile(r"\.?(;\d+)?$")  # "IM000001.;1" -> "IM000001"


def iso_9660_name(name: str) -> str:
    """A file name as a DICOMDIR spells it: upper case, without the ";1" version and the "."
    of a name without extension that a disc mounted without name mapping shows."""
    return _ISO_9660_VERSION.sub("", name).upper()


def has_dicom_preamble(head: bytes) -> bool:
    """True when ``head`` (the first 132 bytes or more) is a DICOM file's preamble."""
    return head[128:PREAMBLE_LENGTH] == b"DICM"


def is_dicom_file(path: str | os.PathLike[str]) -> bool:
    """True for a DICOM image file by content (preamble), whatever its name; False for the
    DICOMDIR index and for anything unreadable. Reads 132 bytes."""
    if iso_9660_name(Path(path).name) == DICOMDIR_NAME:
        return False
    try:
        with open(path, "rb") as handle:
            return has_dicom_preamble(handle.read(PREAMBLE_LENGTH))
    except OSError:  # a folder, a vanished file, no permission: not an image to list
        return False


def read_dicom_header(path: str | os.PathLike[str], tags: list[str]) -> Dataset | None:
    """The elements ``tags`` of a DICOM file's header (pixels not read): a file with the
    preamble, or one named ``.dcm``/``.dicom`` read by force. None for any other file and for
    one pydicom cannot read: a file cut short (a broken copy) fails in any of the errors
    caught here. pydicom is imported here, when a header is read, not with this module."""
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError

    path = Path(path)
    preamble = is_dicom_file(path)
    if not preamble and path.suffix.lower() not in (".dcm", ".dicom"):
        return None
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=not preamble,
                               specific_tags=tags)
    except (OSError, InvalidDicomError, ValueError, EOFError, AttributeError,
            BytesLengthException, struct.error) as error:
        log.debug("no DICOM header read from %s: %s", path, error)
        return None
