"""Load a chest X-ray from disk into a display-ready 8-bit grayscale array (no Qt, no TensorFlow).

Decisions:

* **8-bit grayscale out.** The viewer shows 8-bit and the model was trained on 8-bit JPEGs, so
  every input (16-bit PNG/TIFF, float TIFF, windowed DICOM) is mapped to uint8 here, once.
  High-bit-depth images are stretched over their *actual* min..max, not 0..65535: a 12-bit
  detector stored in 16 bits would otherwise come out almost black. 8-bit images are left as
  they are, because the training JPEGs were not stretched either.
* **DICOM** (see :mod:`.dicom`): recognised by its preamble whatever the file is called (CDs
  and PACS exports have no suffix, or a UID for a name), or by a ``.dcm``/``.dicom`` suffix;
  modality LUT (rescale slope/intercept), then the VOI LUT or window the modality chose,
  MONOCHROME1 inverted so bone is white, like every other format; compressed pixel data
  decoded by the bundled decoders; patient and study context in ``LoadedImage.dicom``.
* **Aspect ratio not kept** in :func:`to_model_input`: the training images were squashed to
  224x224 with no padding, so the classifier must see inputs squashed the same way.
* **JPEG draft decoding** (``min_side``): libjpeg can decode at 1/2, 1/4 or 1/8 scale inside
  the DCT, skipping most of the inverse DCT and the later resize of a full-size image. Pillow's
  ``draft`` only picks a scale that keeps both sides >= the size asked for. We ask for twice
  ``min_side`` (like Pillow's ``thumbnail`` reducing_gap): a 1/8 DCT scale is a crude 8x8 box
  filter, and on the real films it moved the 224x224 model input by up to 3.4 grey levels
  (mean abs) from a full decode; with the 2x gap at most 1.4, for ~20% more time than 1/8.
* **Safety**: Pillow's decompression-bomb guard stays on and its warning is an error here;
  truncated files are refused rather than padded with grey (LOAD_TRUNCATED_IMAGES stays off).
  Every failure is one :class:`ImageLoadError` whose text a radiologist can act on.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .dicom_preamble import has_dicom_preamble, is_dicom_file
from .results import Reason

if TYPE_CHECKING:  # pydicom, under .dicom, is imported when a DICOM file is read (~1 s)
    from .dicom_context import DicomContext

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom"}
)
_DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
_PIL_FORMATS = ("JPEG", "PNG", "BMP", "TIFF")  # GIF, WebP, ... are not X-ray export formats
_OPEN_LOCK = threading.Lock()  # see _load_pillow
_DRAFT_GAP = 2  # decode JPEGs at >= 2 x min_side, then resize properly (see top)
_MAX_FILE_BYTES = 2 * 1024**3  # refuse before reading a multi-GB file into memory
# Magic numbers of the formats we read: a file that starts like an image but fails to decode
# is "damaged", not "not an image".
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*")


class ImageLoadError(Exception):
    """The file cannot be shown or classified; ``str(err)`` is meant for the user."""

    def __init__(self, message: str, *, reason: Reason, path: str | None = None) -> None:
        super().__init__(message)
        self.reason = Reason(reason)  # the stable machine code (README lists them)
        self.path = path


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays with == is ambiguous
class LoadedImage:
    pixels: np.ndarray  # 2-D uint8, C-contiguous, display-ready
    path: str | None
    format: str  # "JPEG", "PNG", "BMP", "TIFF" or "DICOM"
    original_size: tuple[int, int]  # (width, height) at full resolution, as displayed
    metadata: dict[str, str] = field(default_factory=dict)  # DICOM tags as text, for display
    dicom: DicomContext | None = None  # patient and study context; None for other formats


def is_supported(path: str | os.PathLike[str]) -> bool:
    """True when the file name has one of :data:`SUPPORTED_SUFFIXES` (any case)."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for a file the app reads: a supported suffix, or DICOM by content whatever its
    name (no suffix, or one like the ".1" of a UID). Only a file whose suffix says nothing is
    opened, and then only its first 132 bytes are read."""
    return is_supported(path) or is_dicom_file(path)


def load_image(path: str | os.PathLike[str], *, min_side: int | None = None) -> LoadedImage:
    """Read an X-ray file. With ``min_side``, a JPEG may be decoded smaller, never below it.

    ``min_side=None`` gives full resolution (the viewer); the classifier passes its input size.
    """
    p = Path(path)
    name = p.name or str(p)

    def fail(reason: Reason, detail: str) -> ImageLoadError:
        return _error(name, str(p), reason, detail)

    if not p.exists():
        raise fail(Reason.MISSING, "file not found")
    if p.is_dir():
        raise fail(Reason.NOT_A_FILE, "this is a folder, not an image file")
    try:
        size = p.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise fail(Reason.TOO_LARGE, f"file is too large to open safely ({size // 2**20} MB)")
        data = p.read_bytes()
    except OSError as exc:  # permission denied, file vanished, network drive gone, ...
        detail = f"the file could not be read ({exc.strerror or exc})"
        raise fail(Reason.UNREADABLE, detail) from exc
    return _load(data, name, str(p), min_side)


def load_image_bytes(
    data: bytes, name: str = "<memory>", *, min_side: int | None = None
) -> LoadedImage:
    """Same as :func:`load_image` for bytes already in memory; ``name`` gives the suffix."""
    return _load(bytes(data), name, None, min_side)


def to_model_input(
    image: LoadedImage | np.ndarray, size: int = 224, channels: int = 1
) -> np.ndarray:
    """Squash the whole image to ``(size, size, channels)`` float32 in 0..255, as in training."""
    pixels = image.pixels if isinstance(image, LoadedImage) else np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 image, got {pixels.dtype} {pixels.shape}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    # BILINEAR in Pillow widens its filter when shrinking (antialiasing), like the training resize.
    resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
    out = np.asarray(resized, dtype=np.float32)[:, :, np.newaxis]
    return np.repeat(out, 3, axis=2) if channels == 3 else out


# --------------------------------------------------------------------------- internals


def _error(name: str, path: str | None, reason: Reason, detail: str) -> ImageLoadError:
    return ImageLoadError(f'Cannot open "{name}": {detail}.', reason=reason, path=path)


def _load(data: bytes, name: str, path: str | None, min_side: int | None) -> LoadedImage:
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be >= 1, got {min_side}")
    suffix = Path(name).suffix.lower()
    if not data:
        raise _error(name, path, Reason.EMPTY, "file is empty (0 bytes)")
    has_preamble = has_dicom_preamble(data)
    # PACS exports often have no suffix, or a UID for a name ("....1"): DICOM is known by its
    # preamble, and a file without a suffix is judged by its content below.
    if suffix and suffix not in SUPPORTED_SUFFIXES and not has_preamble:
        raise _error(
            name,
            path,
            Reason.UNSUPPORTED,
            f'files of type "{suffix}" are not supported (use JPEG, PNG, BMP, TIFF or DICOM)',
        )
    if has_preamble or (suffix in _DICOM_SUFFIXES and not data.startswith(_IMAGE_MAGIC)):
        return _load_dicom(data, name, path, has_preamble)
    return _load_pillow(data, name, path, min_side)


def _load_pillow(data: bytes, name: str, path: str | None, min_side: int | None) -> LoadedImage:
    def fail(reason: Reason, detail: str) -> ImageLoadError:
        return _error(name, path, reason, detail)

    try:
        # Pillow warns (rather than raises) between 1x and 2x MAX_IMAGE_PIXELS; make that an
        # error here only. catch_warnings swaps process-wide state and scans decode in threads,
        # so hold a lock, and only around the header read (Image.open is lazy, and cheap).
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
        with opened as im:
            fmt = "JPEG" if im.format == "MPO" else str(im.format)  # MPO = JPEG + extras
            width, height = im.size
            # Same limit again before any pixel is allocated (covers the decode, lock-free).
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                raise fail(Reason.TOO_LARGE, _too_large(width, height))
            orientation = _exif_orientation(im)
            if min_side is not None and fmt == "JPEG":
                im.draft("L", (min_side * _DRAFT_GAP, min_side * _DRAFT_GAP))
            im.load()
            if orientation in (2, 3, 4, 5, 6, 7, 8):
                im = ImageOps.exif_transpose(im)
                if orientation >= 5:  # these swap width and height
                    width, height = height, width
            pixels = _to_gray_u8(im)
            if pixels is None:
                raise fail(Reason.UNSUPPORTED, f"image colour mode {im.mode} is not supported")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise fail(Reason.TOO_LARGE, _too_large(*_png_header_size(data))) from exc
    except UnidentifiedImageError as exc:  # before OSError: it is a subclass
        if data.startswith(_IMAGE_MAGIC):
            raise fail(Reason.TRUNCATED, "file is truncated or damaged") from exc
        raise fail(Reason.NOT_IMAGE, _not_image_detail(data)) from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        # Pillow reports "image file is truncated", "broken PNG file", zlib errors, ...
        raise fail(Reason.TRUNCATED, "file is truncated or damaged") from exc
    return LoadedImage(pixels, path, fmt, (width, height), {})


def _exif_orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except (OSError, SyntaxError, ValueError, TypeError, struct.error):
        return 1  # a broken EXIF block must not stop the X-ray from being shown


def _to_gray_u8(im: Image.Image) -> np.ndarray | None:
    """2-D uint8 for any Pillow mode, or None for a mode that has no sensible grey."""
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit int or float: stretch min..max
        return _stretch(np.asarray(im))
    if im.mode == "CMYK":  # Pillow already undid Adobe's inverted CMYK while decoding
        im = im.convert("RGB")
    try:
        # Drops alpha, maps the palette, takes luma from RGB, turns bilevel 0/1 into 0/255.
        gray = im if im.mode == "L" else im.convert("L")
    except ValueError:
        return None
    return np.ascontiguousarray(np.asarray(gray, dtype=np.uint8))


def _stretch(arr: np.ndarray) -> np.ndarray:
    """Map the actual min..max of ``arr`` linearly onto 0..255."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, dtype=np.uint8)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    if hi <= lo:  # a flat image carries no contrast to stretch
        return np.zeros(arr.shape, dtype=np.uint8)
    scaled = (np.where(finite, arr, lo) - lo) * (255.0 / (hi - lo))
    return np.ascontiguousarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _too_large(width: int | None, height: int | None) -> str:
    if width and height:
        return f"image is too large to open safely ({width} x {height} pixels)"
    return "image is too large to open safely"


def _png_header_size(data: bytes) -> tuple[int | None, int | None]:
    # Pillow refuses huge images inside Image.open, before we can ask for the size; for PNG
    # (the usual bomb format) the size is in the IHDR chunk at a fixed offset.
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    return None, None


def _not_image_detail(data: bytes) -> str:
    # Tell "someone saved a web page / report as .jpg" apart from unknown binary formats.
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    looks_like_text = head.startswith(b"<") or b"<html" in head.lower()
    if not looks_like_text and b"\x00" not in head:
        try:
            head.decode("utf-8")
            looks_like_text = True
        except UnicodeDecodeError as exc:
            looks_like_text = exc.start >= len(head) - 3  # only the cut at 1024 bytes failed
    if looks_like_text:
        return "not an image file (it looks like text/HTML)"
    return "not an image file or format not supported"


# --------------------------------------------------------------------------- DICOM


def _load_dicom(data: bytes, name: str, path: str | None, has_preamble: bool) -> LoadedImage:
    from . import dicom  # here, not at the top: see the TYPE_CHECKING import

    try:
        ds = dicom.read_dataset(data, has_preamble=has_preamble)
        width, height = dicom.frame_size(ds)
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and width * height > limit:
            raise dicom.DicomError(Reason.TOO_LARGE, _too_large(width, height))
        film = dicom.decode_film(ds)
    except dicom.NotDicomError as exc:
        detail = exc.detail if has_preamble else _not_image_detail(data)
        raise _error(name, path, exc.reason, detail) from exc
    except dicom.DicomError as exc:
        raise _error(name, path, exc.reason, exc.detail) from exc
    pixels = _stretch(film.values)
    if film.monochrome1:  # stored with white = low values: invert so bone is white
        pixels = 255 - pixels
    size = (pixels.shape[1], pixels.shape[0])
    return LoadedImage(pixels, path, "DICOM", size, film.metadata, film.context)
