"""The DICOM half of :mod:`pneumo_desktop.core.imaging`: recognise DICOM by content, parse it,
decode compressed pixel data, and say in words why a file cannot be read (no Qt).

Decoders. pydicom 3 keeps one decoder per transfer syntax, each with plugins it tries in
order until one succeeds (gdcm, then pylibjpeg, then Pillow/pyjpegls/pydicom's own). The app
ships only permissively licensed ones: python-gdcm (JPEG lossy and lossless, JPEG-LS,
JPEG 2000), pylibjpeg with pylibjpeg-openjpeg (JPEG 2000, HTJ2K) and pylibjpeg-rle (RLE),
and pydicom's own RLE decoder. Not pylibjpeg-libjpeg: it is GPL-3. Every installed plugin
decodes every syntax we promise (``tests/core/test_dicom_decode.py`` checks each one alone),
so pydicom's default order is kept; when a plugin fails, pydicom falls through to the next.

One gap is known: 12-bit *JPEG Extended* (lossy, process 2 and 4). pydicom's gdcm and Pillow
plugins refuse it and pylibjpeg needs the GPL libjpeg, so it is reported as unsupported with
what to do, not as a damaged file.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass, field

import numpy as np
import pydicom
import pydicom.pixels
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from .dicom_context import DicomContext
from .dicom_preamble import (  # noqa: F401 - part of this module's interface
    DICOMDIR_NAME,
    PREAMBLE_LENGTH,
    has_dicom_preamble,
    is_dicom_file,
)
from .results import Reason

log = logging.getLogger(__name__)

# The compressed transfer syntaxes CR/DR units send, which the bundled decoders must read.
COMPRESSED_SYNTAXES: tuple[UID, ...] = (
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
    JPEGBaseline8Bit,
)
_WHAT_TO_DO = "ask the X-ray unit or PACS to export it uncompressed, as JPEG Lossless or JPEG 2000"
METADATA_TAGS = (
    "PatientName",
    "PatientID",
    "PatientSex",
    "PatientAge",
    "PatientBirthDate",
    "StudyDate",
    "StudyDescription",
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "Manufacturer",
)
_UNCOMPRESSED_SYNTAX = {  # (implicit VR, little endian) -> transfer syntax
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    BytesLengthException,  # a number element cut short (a file ending inside its meta)
)


class DicomError(Exception):
    """Why a DICOM file cannot be shown: a :class:`Reason` and a detail a radiologist can act
    on (the caller adds the file name)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class NotDicomError(DicomError):
    """The file is not DICOM at all (the caller describes what it looks like instead)."""

    def __init__(self, detail: str = "not a valid DICOM file") -> None:
        super().__init__(Reason.NOT_IMAGE, detail)


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays with == is ambiguous
class DicomFilm:
    """Decoded grey values of the first frame, after the modality and VOI LUTs (or the luma of
    a colour image), not yet scaled to 8 bits."""

    values: np.ndarray  # 2-D
    monochrome1: bool  # stored with white = low values: invert for display
    metadata: dict[str, str] = field(default_factory=dict)
    context: DicomContext = field(default_factory=DicomContext)


def read_dataset(data: bytes, *, has_preamble: bool) -> Dataset:
    """Parse ``data`` as DICOM with an image in it; :class:`DicomError` otherwise."""
    try:
        # force: old or hand-made .dcm files often lack the 128-byte preamble + "DICM".
        ds = pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except InvalidDicomError as exc:
        raise NotDicomError() from exc
    except _PARSE_ERRORS as exc:
        raise DicomError(Reason.TRUNCATED, "DICOM file is truncated or damaged") from exc
    # A forced read of a non-DICOM file "succeeds" with nonsense tags: demand a real group.
    if not any(tag.group in (0x0008, 0x0010, 0x0020, 0x0028) for tag in ds.keys()):
        if has_preamble and len(ds) == 0 and "MediaStorageSOPClassUID" in ds.file_meta:
            # DICOM by its preamble and file meta, but pydicom gives an empty dataset: the
            # file ends inside an encapsulated (compressed) element, a copy that broke off.
            raise DicomError(Reason.TRUNCATED, "DICOM file is truncated or damaged")
        raise NotDicomError()
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        if "Rows" in ds:  # an image's header, then the file ends before its pixels
            raise DicomError(Reason.TRUNCATED, "DICOM file is truncated or damaged")
        raise DicomError(
            Reason.NOT_IMAGE,
            "DICOM file contains no image (no pixel data); "
            "it may be a report or a structured document",
        )
    return ds


def frame_size(ds: Dataset) -> tuple[int, int]:
    """(width, height) of one frame as the header declares it; (0, 0) when it does not."""
    try:
        return int(ds.get("Columns") or 0), int(ds.get("Rows") or 0)
    except (TypeError, ValueError):
        return 0, 0


def decode_film(ds: Dataset) -> DicomFilm:
    """Decode the first frame of ``ds`` into grey values; :class:`DicomError` when it can't."""
    metadata = {k: v for k in METADATA_TAGS if (v := _tag_text(ds, k))}
    try:
        tsuid = _transfer_syntax(ds)
        photometric = _photometric(ds)
        arr = _pixel_array(ds, tsuid)
        if int(ds.get("NumberOfFrames") or 1) > 1:
            arr = arr[0]  # multi-frame: the first frame is shown and classified
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            arr = _black_padding(_grey_values(arr, ds), arr, ds, photometric == "MONOCHROME1")
        else:
            if photometric == "PALETTE COLOR":
                arr = pydicom.pixels.apply_color_lut(arr, ds)
            if arr.ndim == 3:  # RGB (pydicom already converted YBR) -> luma, as Pillow's "L"
                arr = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        context = DicomContext.from_dataset(ds)
    except DicomError:
        raise
    except _PARSE_ERRORS as exc:
        # Pixel data shorter than Rows x Columns, a broken header, an unknown encoding, ...
        raise DicomError(Reason.TRUNCATED, "DICOM file is truncated or damaged") from exc
    if arr.ndim != 2:
        raise DicomError(Reason.UNSUPPORTED, f"DICOM image of shape {arr.shape} is not supported")
    return DicomFilm(arr, photometric == "MONOCHROME1", metadata, context)


def available_decoders() -> dict[UID, tuple[str, ...]]:
    """The plugins installed for each of :data:`COMPRESSED_SYNTAXES` (empty: cannot decode).
    For the self-test and the About page: which compressed DICOM this installation reads."""
    return {uid: _plugins(uid) for uid in COMPRESSED_SYNTAXES}


# --------------------------------------------------------------------------- internals


def _grey_values(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """The modality LUT (rescale), then the VOI LUT or window; none of it: unchanged, shown
    over min..max. Units send malformed ones (a window width of 0, text where a number
    belongs, an unknown VOI function): those are ignored with a warning, not the film. A
    broken rescale drops the window too, since the window is in the rescaled units."""
    try:
        values = pydicom.pixels.apply_modality_lut(stored, ds)
    except _PARSE_ERRORS as exc:
        log.warning("ignored the film's malformed rescale and window (%s): shown over its "
                    "full range", exc)
        return stored
    try:
        return pydicom.pixels.apply_voi_lut(values, ds)
    except _PARSE_ERRORS as exc:
        log.warning("ignored the film's malformed window or VOI LUT (%s): shown over its "
                    "full range", exc)
        return values


def _black_padding(values: np.ndarray, stored: np.ndarray, ds: Dataset,
                   monochrome1: bool) -> np.ndarray:
    """Pixels outside the collimated field, marked by Pixel Padding Value (up to its Range
    Limit), set to the film's darkest value: padding far from the film's values (4095 around
    1000..3000) would otherwise widen the min..max stretch and squeeze the film's contrast."""
    try:
        low = int(ds.get("PixelPaddingValue"))
        limit = ds.get("PixelPaddingRangeLimit")
        high = low if limit is None else int(limit)
    except (TypeError, ValueError):  # none, or not a number
        return values
    padding = (stored >= min(low, high)) & (stored <= max(low, high))
    if not padding.any() or padding.all():
        return values
    values = np.array(values, dtype=np.float64)
    film = values[~padding]
    values[padding] = film.max() if monochrome1 else film.min()  # white = low in MONOCHROME1
    return values


def _photometric(ds: Dataset) -> str:
    """The Photometric Interpretation, upper case; MONOCHROME2 for a grey film that leaves it
    out or empty (old units did). Written back, so that pydicom decodes the film with it."""
    stated = ds.get("PhotometricInterpretation")
    photometric = str(stated or "").strip().upper()
    if not photometric and int(ds.get("SamplesPerPixel") or 1) == 1:
        photometric = "MONOCHROME2"
    if photometric and photometric != stated:
        ds.PhotometricInterpretation = photometric
    return photometric


def _tag_text(ds: Dataset, keyword: str) -> str:
    """A tag's value as text; "" when absent or unreadable (an unknown VR, a value of the
    wrong length: a unit's bug costs that tag, not the film)."""
    try:
        value = ds.get(keyword)
    except _PARSE_ERRORS as exc:
        log.warning("ignored the film's unreadable %s (%s)", keyword, exc)
        return ""
    return str(value) if str(value or "").strip() else ""


def _transfer_syntax(ds: Dataset) -> UID:
    ds.ensure_file_meta()
    tsuid = ds.file_meta.get("TransferSyntaxUID")
    if tsuid is None:  # preamble-less files often lack it: use the encoding we parsed
        implicit, little = ds.original_encoding
        tsuid = _UNCOMPRESSED_SYNTAX.get((implicit, little), ExplicitVRLittleEndian)
        ds.file_meta.TransferSyntaxUID = tsuid
    return UID(tsuid)


def _pixel_array(ds: Dataset, tsuid: UID) -> np.ndarray:
    encapsulated = _is_encapsulated(tsuid)
    if encapsulated:
        unsupported = _unsupported(ds, tsuid)
        if unsupported:
            raise DicomError(Reason.UNSUPPORTED_DICOM, unsupported)
    try:
        return ds.pixel_array
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        if encapsulated:  # every installed plugin tried and failed
            raise DicomError(
                Reason.TRUNCATED,
                f"compressed DICOM ({_words(tsuid)}) could not be decoded: "
                "the image data is damaged or truncated",
            ) from exc
        raise


def _is_encapsulated(tsuid: UID) -> bool:
    try:
        return bool(tsuid.is_encapsulated)
    except ValueError:  # a UID pydicom does not know: not one of the native encodings
        return tsuid not in _UNCOMPRESSED_SYNTAX.values()


def _unsupported(ds: Dataset, tsuid: UID) -> str | None:
    """Why no installed decoder reads this compressed pixel data, in words; None if one does."""
    words = _words(tsuid)
    try:
        decoder = pydicom.pixels.get_decoder(tsuid)
    except NotImplementedError:  # video, JPEG XL, a private syntax, ...
        return f"compressed DICOM ({words}) cannot be read: no decoder reads it; {_WHAT_TO_DO}"
    plugins = set(decoder.available_plugins)
    if not plugins:
        return (
            f"compressed DICOM ({words}) cannot be read: its decoder is missing from this "
            f"installation (reinstall the app), or {_WHAT_TO_DO}"
        )
    bits = int(ds.get("BitsStored") or 8)
    if tsuid == JPEGExtended12Bit and bits > 8 and plugins <= {"gdcm", "pillow"}:
        return (
            f"compressed DICOM ({words}, {bits}-bit) cannot be read: no bundled decoder reads "
            f"lossy JPEG with more than 8 bits; {_WHAT_TO_DO}"
        )
    return None


def _plugins(uid: UID) -> tuple[str, ...]:
    try:
        return tuple(pydicom.pixels.get_decoder(uid).available_plugins)
    except NotImplementedError:
        return ()


def _words(tsuid: UID) -> str:
    name = tsuid.name
    return name if name != str(tsuid) else f"transfer syntax {tsuid}"
