"""Tests for pneumo_desktop.core.imaging. Every image is synthesised in tmp_path, except the
optional real-X-ray test, which reads the read-only full-resolution set next to PNEUMO_DATA_DIR."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from pydicom.encaps import encapsulate  # noqa: F401 - test_hostile_folder imports it from here

from pneumo_desktop.core.imaging import (
    SUPPORTED_SUFFIXES,
    ImageLoadError,
    LoadedImage,
    is_image_file,
    is_supported,
    load_image,
    load_image_bytes,
    to_model_input,
)
from pneumo_desktop.core.results import Reason
from tests.dicom_films import make_dicom

REPO_ROOT = Path(__file__).resolve().parents[2]


def xray(width: int = 60, height: int = 40) -> np.ndarray:
    """An asymmetric uint8 test picture: a gradient with a bright block in the top-left corner."""
    y, x = np.mgrid[0:height, 0:width]
    img = (40 + 100 * x / width + 60 * y / height).astype(np.uint8)
    img[: height // 4, : width // 4] = 250
    return img


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


def jpeg_bytes(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def load_error(path: Path, **kwargs) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    return info.value


# --------------------------------------------------------------------------- suffixes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", True),
        ("b.JPEG", True),
        ("c.Png", True),
        ("d.bmp", True),
        ("e.TIF", True),
        ("f.tiff", True),
        ("g.dcm", True),
        ("h.DICOM", True),
        ("i.gif", False),
        ("j.txt", False),
        ("noext", False),
        (Path("dir.d/k.png"), True),
    ],
)
def test_is_supported_by_suffix_case_insensitive(name, expected):
    assert is_supported(name) is expected


def test_supported_suffixes_are_lower_case_with_dot():
    assert SUPPORTED_SUFFIXES == {
        ".jpg",
        ".jpeg",
        ".png",
        ".bmp",
        ".tif",
        ".tiff",
        ".dcm",
        ".dicom",
    }


# --------------------------------------------------------------------------- Pillow formats


@pytest.mark.parametrize(
    ("suffix", "fmt", "lossless"),
    [
        (".jpg", "JPEG", False),
        (".jpeg", "JPEG", False),
        (".png", "PNG", True),
        (".bmp", "BMP", True),
        (".tif", "TIFF", True),
        (".tiff", "TIFF", True),
    ],
)
def test_loads_grayscale_formats(tmp_path, suffix, fmt, lossless):
    pixels = xray()
    path = save(Image.fromarray(pixels), tmp_path / f"chest{suffix}")
    image = load_image(path)
    assert isinstance(image, LoadedImage)
    assert image.format == fmt
    assert image.pixels.dtype == np.uint8 and image.pixels.shape == (40, 60)
    assert image.original_size == (60, 40)
    assert image.path == str(path) and image.metadata == {}
    if lossless:
        np.testing.assert_array_equal(image.pixels, pixels)
    else:
        assert np.abs(image.pixels.astype(int) - pixels).mean() < 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_is_scaled_by_actual_min_max(tmp_path, suffix):
    # A 12-bit detector in a 16-bit container: 1000..5000 must fill 0..255, not stay dark.
    values = np.linspace(1000, 5000, 40 * 60).reshape(40, 60).astype(np.uint16)
    path = save(Image.fromarray(values), tmp_path / f"sixteen{suffix}")
    pixels = load_image(path).pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (40, 60)
    assert pixels.min() == 0 and pixels.max() == 255
    assert pixels[0, 0] == 0 and pixels[-1, -1] == 255
    assert np.all(np.diff(pixels.ravel().astype(int)) >= 0)  # order preserved


def test_float_tiff_is_scaled_by_min_max(tmp_path):
    values = np.linspace(-1.5, 2.5, 40 * 60, dtype=np.float32).reshape(40, 60)
    path = save(Image.fromarray(values, mode="F"), tmp_path / "float.tif")
    pixels = load_image(path).pixels
    assert pixels.dtype == np.uint8 and (pixels.min(), pixels.max()) == (0, 255)


def test_rgba_alpha_is_dropped(tmp_path):
    rgb = np.stack([xray(), xray()[::-1], np.full((40, 60), 90, np.uint8)], axis=2)
    alpha = np.zeros((40, 60, 1), np.uint8)  # fully transparent must not turn the image blank
    path = save(Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA"), tmp_path / "a.png")
    expected = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
    np.testing.assert_array_equal(load_image(path).pixels, expected)


def test_palette_is_mapped_to_gray(tmp_path):
    img = Image.new("P", (4, 2))
    img.putpalette([0, 0, 0, 255, 255, 255, 128, 128, 128] + [0] * (256 - 3) * 3)
    img.putdata([0, 1, 2, 1, 0, 2, 2, 1])
    pixels = load_image(save(img, tmp_path / "pal.png")).pixels
    np.testing.assert_array_equal(pixels, [[0, 255, 128, 255], [0, 128, 128, 255]])


def test_cmyk_jpeg_keeps_black_and_white(tmp_path):
    # Pillow writes Adobe (inverted) CMYK JPEGs; white must stay white after loading.
    img = Image.new("CMYK", (32, 16), (0, 0, 0, 0))  # white
    img.paste((0, 0, 0, 255), (0, 0, 16, 16))  # left half black
    image = load_image(save(img, tmp_path / "cmyk.jpg", quality=95))
    assert image.pixels.shape == (16, 32)
    assert image.pixels[:, :12].mean() < 20 and image.pixels[:, 20:].mean() > 235


def test_bilevel_becomes_0_and_255(tmp_path):
    img = Image.fromarray(xray() > 120).convert("1")
    pixels = load_image(save(img, tmp_path / "bw.png")).pixels
    assert pixels.dtype == np.uint8 and set(np.unique(pixels)) == {0, 255}


@pytest.mark.parametrize(("orientation", "bright_corner"), [(6, "top_right"), (8, "bottom_left")])
def test_exif_orientation_is_applied(tmp_path, orientation, bright_corner):
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: rotate 90 clockwise to display, 8: 90 counter-clockwise
    path = save(Image.fromarray(xray(60, 40)), tmp_path / "rot.jpg", exif=exif.tobytes())
    image = load_image(path)
    assert image.pixels.shape == (60, 40)  # width and height swapped
    assert image.original_size == (40, 60)
    corners = {"top_right": image.pixels[:10, -8:], "bottom_left": image.pixels[-10:, :8]}
    assert corners[bright_corner].mean() > 230  # the top-left block moved there
    assert image.pixels[:10, :8].mean() < 200


def test_progressive_jpeg_full_and_draft(tmp_path):
    path = save(Image.fromarray(xray(400, 300)), tmp_path / "prog.jpg", progressive=True)
    full = load_image(path)
    small = load_image(path, min_side=50)
    assert full.pixels.shape == (300, 400)
    assert small.pixels.shape == (150, 200)  # 300 // (2 x 50) = 3 -> DCT scale 1/2
    assert small.original_size == full.original_size == (400, 300)


@pytest.mark.parametrize(
    ("min_side", "shape"),
    # libjpeg scales by 1/2, 1/4 or 1/8 only; the loader asks Pillow for >= 2 x min_side.
    [
        (224, (500, 1000)),
        (100, (250, 500)),
        (50, (125, 250)),
        (30, (63, 125)),
        (20, (63, 125)),
        (600, (500, 1000)),
    ],
)
def test_draft_never_goes_below_min_side(tmp_path, min_side, shape):
    path = save(Image.fromarray(xray(1000, 500)).convert("RGB"), tmp_path / "big.jpg")
    image = load_image(path, min_side=min_side)
    assert image.pixels.shape == shape and min(shape) >= min(min_side, 500)
    assert image.original_size == (1000, 500)


def test_min_side_ignored_for_lossless_and_small_images(tmp_path):
    png = save(Image.fromarray(xray(300, 200)), tmp_path / "p.png")
    tiny = save(Image.fromarray(xray(150, 100)), tmp_path / "t.jpg")
    assert load_image(png, min_side=50).pixels.shape == (200, 300)
    assert load_image(tiny, min_side=224).pixels.shape == (100, 150)


@pytest.mark.parametrize("name", ["CHEST.JPG", "Röntgen Thorax – Kind 1.jpeg", "胸部 x 線.png"])
def test_odd_file_names(tmp_path, name):
    path = tmp_path / "sub dir é" / name
    path.parent.mkdir()
    save(Image.fromarray(xray()), path, format="PNG" if name.endswith(".png") else "JPEG")
    assert load_image(path).pixels.shape == (40, 60)
    assert load_image(str(path)).path == str(path)


def test_content_wins_over_suffix(tmp_path):
    path = save(Image.fromarray(xray()), tmp_path / "really_png.jpg", format="PNG")
    assert load_image(path).format == "PNG"


def test_load_image_bytes_matches_file(tmp_path):
    data = jpeg_bytes(Image.fromarray(xray()))
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    from_bytes = load_image_bytes(data, "x.jpg")
    np.testing.assert_array_equal(from_bytes.pixels, load_image(path).pixels)
    assert from_bytes.path is None and from_bytes.format == "JPEG"
    with pytest.raises(ImageLoadError, match="upload.png") as info:
        load_image_bytes(b"", "upload.png")
    assert info.value.reason == "empty"


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    err = load_error(tmp_path / "gone.jpg")
    assert err.reason == "missing" and "file not found" in str(err) and "gone.jpg" in str(err)
    assert err.path == str(tmp_path / "gone.jpg")


def test_directory_is_refused(tmp_path):
    (tmp_path / "folder.png").mkdir()
    err = load_error(tmp_path / "folder.png")
    assert err.reason == "not_a_file" and "folder" in str(err)


def _truncated_jpeg() -> bytes:
    data = jpeg_bytes(Image.fromarray(xray(200, 200)))
    return data[: len(data) // 2]


def _truncated_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), np.uint8)).save(
        buf, "PNG"
    )
    return buf.getvalue()[: len(buf.getvalue()) // 2]


@pytest.mark.parametrize(
    ("name", "content", "reason", "message"),
    [
        ("empty.jpg", b"", "empty", "file is empty"),
        ("half.jpg", _truncated_jpeg(), "truncated", "file is truncated or damaged"),
        ("half.png", _truncated_png(), "truncated", "file is truncated or damaged"),
        ("head.jpg", b"\xff\xd8\xff\xe0", "truncated", "file is truncated or damaged"),
        (
            "noise.jpg",
            bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8)),
            "not_image",
            "not an image file or format not supported",
        ),
        (
            "page.png",
            b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
            "not_image",
            "looks like text/HTML",
        ),
        (
            "notes.jpg",
            "Patient notes: ärztlicher Bericht\n".encode() * 10,
            "not_image",
            "looks like text/HTML",
        ),
        ("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not_image", "not an image file"),
        ("report.pdf", b"%PDF-1.4", "unsupported", 'files of type ".pdf" are not supported'),
    ],
)
def test_unreadable_input_gives_clear_error(tmp_path, name, content, reason, message):
    path = tmp_path / name
    path.write_bytes(content)
    err = load_error(path)
    assert err.reason == reason
    assert message in str(err) and name in str(err)
    assert "Traceback" not in str(err) and "PIL" not in str(err)


def _png_declaring(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC over type + body
    return bytes(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (40000, 40000),  # Pillow's own error (> 2 x MAX_IMAGE_PIXELS)
        (10000, 9000),
    ],  # only Pillow's warning: must be refused as well
)
def test_decompression_bomb_is_refused_quickly(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(width, height))
    filters_before = list(warnings.filters)
    limit_before = Image.MAX_IMAGE_PIXELS
    start = time.perf_counter()
    err = load_error(path)
    assert time.perf_counter() - start < 1.0  # no 1.6-gigapixel allocation happened
    assert err.reason == "too_large"
    assert f"image is too large to open safely ({width} x {height} pixels)" in str(err)
    # The guard is used locally, never switched off or changed globally.
    assert Image.MAX_IMAGE_PIXELS == limit_before is not None
    assert list(warnings.filters) == filters_before
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_parallel_loads_leave_warning_filters_alone(tmp_path):
    # The scanner decodes in a thread pool; the local warnings filter must not leak or race.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(10000, 9000))
    good = save(Image.fromarray(xray()), tmp_path / "good.jpg")
    filters_before = list(warnings.filters)

    def load(path: Path) -> str:
        try:
            return load_image(path).format
        except ImageLoadError as err:
            return err.reason

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(load, [bomb, good] * 20))
    assert results == ["too_large", "JPEG"] * 20
    assert list(warnings.filters) == filters_before


def test_min_side_must_be_positive(tmp_path):
    path = save(Image.fromarray(xray()), tmp_path / "x.png")
    with pytest.raises(ValueError):
        load_image(path, min_side=0)


# --------------------------------------------------------------------------- DICOM


STORED = np.linspace(0, 4095, 32 * 48).reshape(32, 48).astype(np.uint16)
WINDOWED = {"RescaleSlope": 1, "RescaleIntercept": -1024, "WindowCenter": 0, "WindowWidth": 2000}


def test_dicom_monochrome2_is_windowed(tmp_path):
    make_dicom(tmp_path / "cr.dcm", STORED, **WINDOWED)
    image = load_image(tmp_path / "cr.dcm")
    assert image.format == "DICOM" and image.pixels.dtype == np.uint8
    assert image.pixels.shape == (32, 48) and image.original_size == (48, 32)
    # Window -1000..1000 in modality units = stored 24..2024: darker is 0, brighter is 255.
    assert image.pixels[0, 0] == 0 and image.pixels[-1, -1] == 255
    mid = np.argmin(np.abs(STORED.astype(int) - 1024))  # modality value 0 = window centre
    assert abs(int(image.pixels.ravel()[mid]) - 128) <= 2
    assert (image.pixels == 255).mean() > 0.4  # everything above stored 2024 saturates
    assert image.metadata["PatientName"] == "Doe^Jane"
    assert image.metadata["PatientID"] == "P-0042" and image.metadata["ViewPosition"] == "PA"
    assert "PatientAge" not in image.metadata  # only tags that are present


def test_dicom_monochrome1_is_inverted():
    mono2 = load_image_bytes(make_dicom(None, STORED, **WINDOWED), "m2.dcm")
    mono1 = load_image_bytes(
        make_dicom(None, STORED, photometric="MONOCHROME1", **WINDOWED), "m1.dcm"
    )
    np.testing.assert_array_equal(mono1.pixels, 255 - mono2.pixels)
    assert mono1.pixels[0, 0] == 255  # low stored values are white in MONOCHROME1


def test_dicom_without_window_uses_min_max():
    stored = np.linspace(300, 900, 32 * 48).reshape(32, 48).astype(np.uint16)
    pixels = load_image_bytes(make_dicom(None, stored), "raw.dcm").pixels
    assert (pixels.min(), pixels.max()) == (0, 255)


@pytest.mark.parametrize("name", ["IM000001", "old.dcm"])
def test_dicom_found_by_preamble_or_suffix(tmp_path, name):
    # PACS exports often have no suffix (found by the preamble); old .dcm files lack a preamble.
    make_dicom(tmp_path / name, STORED, preamble=name == "IM000001")
    image = load_image(tmp_path / name)
    assert image.format == "DICOM" and image.pixels.shape == (32, 48)


@pytest.mark.parametrize("name", ["IM000001", "1.2.840.113619.2.55.3.604688.1", "film.img"])
def test_dicom_with_any_name_is_an_image_file_and_loads(tmp_path, name):
    # CDs and PACS exports name files IM000001, or by UID (whose last ".1" looks like a suffix).
    path = tmp_path / name
    make_dicom(path, STORED, **WINDOWED)
    assert is_image_file(path) and not is_supported(path)
    image = load_image(path)
    assert image.format == "DICOM" and image.dicom is not None
    assert image.dicom.patient_id == "P-0042"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes", b"scanned films of the day\n" * 20),
        ("Thumbs.db", b"\x00" * 300),
        ("short", b"DICM"),
        ("empty", b""),
        ("report.pdf", b"%PDF-1.4" + b"\x00" * 200),
    ],
)
def test_other_files_without_image_suffix_are_not_image_files(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    assert not is_image_file(tmp_path / name)


def test_is_image_file_by_suffix_reads_nothing_and_skips_folders_and_dicomdir(tmp_path):
    assert is_image_file(tmp_path / "not there yet.dcm")  # the suffix decides, unopened
    (tmp_path / "IM000001").mkdir()
    assert not is_image_file(tmp_path / "IM000001") and not is_image_file(tmp_path / "gone")
    make_dicom(tmp_path / "DICOMDIR", None)  # the disc's index: DICM, but not a film
    assert not is_image_file(tmp_path / "DICOMDIR")


def test_png_with_unknown_suffix_is_still_refused(tmp_path):
    path = save(Image.fromarray(xray()), tmp_path / "film.1", format="PNG")
    err = load_error(path)
    assert err.reason is Reason.UNSUPPORTED and 'files of type ".1"' in str(err)


def test_every_load_error_reason_is_a_reason_code(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"hello" * 100)
    for path in (tmp_path / "zero.jpg", tmp_path / "text.jpg", tmp_path / "absent.png", tmp_path):
        assert isinstance(load_error(path).reason, Reason)


def test_dicom_multiframe_uses_first_frame():
    frames = np.stack([STORED, STORED[::-1]])
    data = make_dicom(None, STORED, pixel_data=frames.tobytes(), NumberOfFrames=2)
    first = load_image_bytes(data, "multi.dcm").pixels
    np.testing.assert_array_equal(first, load_image_bytes(make_dicom(None, STORED), "a.dcm").pixels)


def test_dicom_rgb_becomes_gray():
    rgb = np.repeat(xray(48, 32)[:, :, None], 3, axis=2)
    pixels = load_image_bytes(make_dicom(None, rgb, photometric="RGB"), "rgb.dcm").pixels
    assert pixels.shape == (32, 48) and (pixels.min(), pixels.max()) == (0, 255)


def test_dicom_without_pixel_data(tmp_path):
    make_dicom(tmp_path / "sr.dcm", None)
    err = load_error(tmp_path / "sr.dcm")
    assert err.reason is Reason.NOT_IMAGE and "no pixel data" in str(err)


def test_dicom_truncated_pixel_data(tmp_path):
    make_dicom(tmp_path / "cut.dcm", STORED, pixel_data=STORED.tobytes()[:1000])
    err = load_error(tmp_path / "cut.dcm")
    assert err.reason == "truncated" and "cut.dcm" in str(err)


def test_garbage_with_dicom_suffix(tmp_path):
    (tmp_path / "fake.dcm").write_bytes(b"hello, this is not DICOM at all\n" * 20)
    err = load_error(tmp_path / "fake.dcm")
    assert err.reason == "not_image" and "not an image file" in str(err)


# --------------------------------------------------------------------------- model input


@pytest.mark.parametrize("channels", [1, 3])
def test_to_model_input_squashes_whole_image(channels):
    pixels = xray(300, 100)
    image = LoadedImage(pixels, None, "PNG", (300, 100), {})
    out = to_model_input(image, size=224, channels=channels)
    assert out.shape == (224, 224, channels) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    expected = np.asarray(Image.fromarray(pixels).resize((224, 224), Image.Resampling.BILINEAR))
    for c in range(channels):
        np.testing.assert_array_equal(out[:, :, c], expected)  # grey replicated per channel
    assert out[:40, :40].mean() > 240  # the corner block still fills the corner: aspect squashed


def test_to_model_input_accepts_arrays_and_rejects_bad_input():
    out = to_model_input(xray(), size=32)
    assert out.shape == (32, 32, 1)
    np.testing.assert_array_equal(to_model_input(xray()[:, :, None], size=32), out)
    with pytest.raises(ValueError):
        to_model_input(xray(), channels=2)
    with pytest.raises(ValueError):
        to_model_input(xray().astype(np.float32))


# --------------------------------------------------------------------------- real X-rays


@pytest.mark.data
def test_real_fullres_xrays_load_and_draft_matches_full_decode():
    data_dir = Path(os.environ.get("PNEUMO_DATA_DIR", REPO_ROOT / "../shared/data/chest_xray"))
    fullres = data_dir.parent / "fullres"
    files = sorted(p for p in fullres.rglob("*") if p.is_file() and is_supported(p))
    if not files:
        pytest.skip(f"real X-rays not found at {fullres}: set PNEUMO_DATA_DIR")
    for path in files:
        image = load_image(path, min_side=224)
        assert image.pixels.ndim == 2 and image.pixels.dtype == np.uint8
        assert min(image.pixels.shape) >= min(224, *image.original_size)
    # Full decodes are slow: compare draft vs full on an evenly spread sample.
    for path in files[:: max(1, len(files) // 8)]:
        full = load_image(path)
        draft = load_image(path, min_side=224)
        assert draft.original_size == full.original_size
        assert draft.pixels.ndim == 2
        if min(full.pixels.shape) >= 4 * 224:  # big enough for at least a 1/2 DCT scale
            assert draft.pixels.size < full.pixels.size
        diff = np.abs(to_model_input(draft) - to_model_input(full)).mean()
        assert diff < 2, f"{path.name}: draft differs from full decode by {diff:.2f} grey levels"
