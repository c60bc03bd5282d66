"""One folder of everything a clinic PC's folder may hold: each file gets its own status and
message, non-images are skipped, and the scan goes on to the end."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEGLSLossless

from pneumo_desktop.core.results import Verdict
from pneumo_desktop.core.scan import list_images, scan_files
from tests.conftest import synthetic_xray
from tests.core.test_imaging import (
    STORED,
    WINDOWED,
    _png_declaring,
    _truncated_jpeg,
    encapsulate,
    make_dicom,
)


def _exif_rotated_jpeg(pixels: np.ndarray) -> bytes:
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    film = synthetic_xray(rng, True, size=160)
    folder = tmp_path / "clinic share"
    nested = folder / "2026-11-25" / "ward B"
    nested.mkdir(parents=True)
    films = {
        "plain.jpg": lambda p: Image.fromarray(film).save(p),
        "UPPER CASE.JPEG": lambda p: Image.fromarray(film).save(p, "JPEG"),
        "progressive.jpg": lambda p: Image.fromarray(film).save(p, progressive=True),
        "cmyk.jpg": lambda p: Image.fromarray(film).convert("CMYK").save(p),
        "sixteen bit.png": lambda p: Image.fromarray(film.astype(np.uint16) * 256).save(p),
        "rgba.png": lambda p: Image.fromarray(film).convert("RGBA").save(p),
        "palette.png": lambda p: Image.fromarray(film).convert("P").save(p),
        "film.tiff": lambda p: Image.fromarray(film).save(p),
        "film.bmp": lambda p: Image.fromarray(film).save(p),
        "rotated.jpg": lambda p: p.write_bytes(_exif_rotated_jpeg(film)),
        "Röntgen 儿童.png": lambda p: Image.fromarray(film).save(p),
        "mono1.dcm": lambda p: make_dicom(p, STORED, photometric="MONOCHROME1", **WINDOWED),
        "mono2.dcm": lambda p: make_dicom(p, STORED, **WINDOWED),
    }
    for name, write in films.items():
        write((nested if name.startswith("mono") else folder) / name)
    broken = {
        "zero.jpg": b"",
        "truncated.jpg": _truncated_jpeg(),
        "garbled.png": bytes(rng.integers(0, 256, 5000, dtype=np.uint8)),
        "webpage.jpg": b"<!DOCTYPE html><html><body>Not found</body></html>",
        "notes.png": b"Patient notes: cough for three days\n" * 20,
        "bomb.png": _png_declaring(40000, 40000),
    }
    for name, content in broken.items():
        (folder / name).write_bytes(content)
    make_dicom(folder / "jpegls.dcm", STORED, syntax=JPEGLSLossless,
               pixel_data=encapsulate([b"\x00\x01\x02\x03" * 64]))
    (folder / "report.docx").write_bytes(b"PK\x03\x04 not an image")
    (folder / "Thumbs.db").write_bytes(b"\x00" * 64)
    (folder / "readme.txt").write_text("scanned films of the day")
    return folder


def test_every_hostile_file_gets_its_own_status_and_the_scan_finishes(
    hostile_folder, tiny_classifier
):
    files = list_images(hostile_folder)
    names = {path.name for path in files}
    assert not names & {"report.docx", "Thumbs.db", "readme.txt"}  # skipped, not errors
    results = {Path(r.path).name: r for r in scan_files(files, tiny_classifier, batch_size=4)}
    assert set(results) == names

    expected_errors = {
        "zero.jpg": "empty",
        "truncated.jpg": "truncated",
        "garbled.png": "not_image",
        "webpage.jpg": "not_image",
        "notes.png": "not_image",
        "bomb.png": "too_large",
        "jpegls.dcm": "truncated",  # decoders are bundled: a garbage stream is damaged
    }
    for name, reason in expected_errors.items():
        result = results[name]
        assert (result.status, result.reason) == ("error", reason), name
        assert name in result.message and result.probability is None
    for name, result in results.items():
        if name not in expected_errors:
            assert result.status in ("ok", "not_xray"), (name, result.message)
            if result.status == "ok":
                assert 0.0 <= result.probability <= 1.0
                assert result.verdict in (Verdict.NORMAL, Verdict.PNEUMONIA)
