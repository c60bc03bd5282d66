"""Compressed DICOM: each transfer syntax CR/DR units send decodes to exactly the stored pixels,
with every installed decoder, and what cannot be read says why in words. Every file is encoded
by the test (tests/dicom_films.py); nothing binary is shipped."""

from __future__ import annotations

import io
import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
import pydicom.pixels
import pytest
from pydicom import uid
from pydicom.encaps import encapsulate, generate_frames

from pneumo_desktop.core import dicom
from pneumo_desktop.core.imaging import ImageLoadError, load_image_bytes
from pneumo_desktop.core.results import Reason
from tests.dicom_films import LOSSLESS_SYNTAXES, compress_dicom, make_dicom

REPO_ROOT = Path(__file__).resolve().parents[2]
# The four the issue names (JPEG Lossless SV1, JPEG-LS, JPEG 2000, RLE) and process 14.
SYNTAX_IDS = {
    uid.JPEGLosslessSV1: "jpeg-lossless-sv1",
    uid.JPEGLossless: "jpeg-lossless-p14",
    uid.JPEGLSLossless: "jpeg-ls",
    uid.JPEG2000Lossless: "jpeg2000",
    uid.RLELossless: "rle",
}
PRIVATE_SYNTAX = uid.UID("1.2.826.0.1.3680043.2.1143.999")
PRIVATE_SYNTAX.set_private_encoding(implicit_vr=False, little_endian=True)  # so it can be written
WINDOWED = {"RescaleSlope": 1, "RescaleIntercept": -1024, "WindowCenter": 0, "WindowWidth": 2000}


def film(bits: int, signed: bool = False) -> np.ndarray:
    """A film-like 96 x 80 picture using the full range of ``bits``: smooth anatomy (which the
    predictors compress), noise (which they must keep exactly) and both extremes."""
    rng = np.random.default_rng(bits)
    y, x = np.mgrid[0:96, 0:80]
    top = 2**bits - 1
    smooth = top * (0.2 + 0.5 * np.sin(x / 13.0) ** 2 * np.cos(y / 17.0) ** 2)
    values = np.clip(smooth + rng.normal(0, top / 50, smooth.shape), 0, top).round()
    values[:6, :6], values[-6:, -6:] = 0, top
    if signed:
        return (values - 2 ** (bits - 1)).astype(np.int16)
    return values.astype(np.uint8 if bits == 8 else np.uint16)


def plain_dicom(stored: np.ndarray, bits: int, **attrs) -> bytes:
    return make_dicom(None, stored, BitsStored=bits, HighBit=bits - 1, **attrs)


def encoded(stored: np.ndarray, bits: int, syntax: uid.UID, **attrs) -> bytes:
    return compress_dicom(plain_dicom(stored, bits, **attrs), syntax)


def decoded_values(data: bytes) -> np.ndarray:
    return dicom.decode_film(dicom.read_dataset(data, has_preamble=True)).values


def load_error(data: bytes, name: str = "film.dcm") -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image_bytes(data, name)
    return info.value


# --------------------------------------------------------------------------- lossless round trips


@pytest.mark.parametrize("syntax", LOSSLESS_SYNTAXES, ids=SYNTAX_IDS.get)
@pytest.mark.parametrize("bits", [8, 12, 16])
def test_lossless_syntax_decodes_to_the_stored_pixels(syntax, bits):
    stored = film(bits)
    data = encoded(stored, bits, syntax)
    assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == syntax
    values = decoded_values(data)
    np.testing.assert_array_equal(values, stored)
    # The app's 8-bit film is the same as from the uncompressed file.
    np.testing.assert_array_equal(
        load_image_bytes(data, "c.dcm").pixels,
        load_image_bytes(plain_dicom(stored, bits), "u.dcm").pixels,
    )


@pytest.mark.parametrize("syntax", LOSSLESS_SYNTAXES, ids=SYNTAX_IDS.get)
def test_signed_16_bit_decodes_to_the_stored_pixels(syntax):
    stored = film(16, signed=True)
    values = decoded_values(encoded(stored, 16, syntax, PixelRepresentation=1))
    np.testing.assert_array_equal(values, stored)


def test_monochrome1_compressed_is_windowed_and_inverted_like_uncompressed():
    stored = film(12)
    mono1 = {"photometric": "MONOCHROME1", **WINDOWED}
    compressed = load_image_bytes(encoded(stored, 12, uid.JPEGLSLossless, **mono1), "m1.dcm")
    uncompressed = load_image_bytes(plain_dicom(stored, 12, **mono1), "m1u.dcm")
    mono2 = load_image_bytes(plain_dicom(stored, 12, **WINDOWED), "m2.dcm")
    np.testing.assert_array_equal(compressed.pixels, uncompressed.pixels)
    np.testing.assert_array_equal(compressed.pixels, 255 - mono2.pixels)
    assert compressed.pixels[0, 0] == 255  # stored 0 is white in MONOCHROME1


def _plugin_cases() -> list:
    return [
        pytest.param(syntax, plugin, id=f"{SYNTAX_IDS[syntax]}-{plugin}")
        for syntax in LOSSLESS_SYNTAXES
        for plugin in pydicom.pixels.get_decoder(syntax).available_plugins
    ]


@pytest.mark.parametrize(("syntax", "plugin"), _plugin_cases())
def test_every_installed_plugin_decodes_its_syntax(syntax, plugin):
    # pydicom tries the plugins in order and falls through on failure; each one must be right
    # on its own, or the film would depend on which plugin a machine happens to have.
    stored = film(12)
    data = encoded(stored, 12, syntax)
    values = pydicom.pixels.pixel_array(io.BytesIO(data), decoding_plugin=plugin)
    np.testing.assert_array_equal(values, stored)


def test_bundled_decoders_cover_the_four_syntaxes_without_gpl_code():
    plugins = dicom.available_decoders()
    for syntax in LOSSLESS_SYNTAXES:
        assert plugins[syntax], f"no decoder installed for {syntax.name}"
    # For the JPEG (non-2000) syntaxes pydicom's "pylibjpeg" plugin is pylibjpeg-libjpeg: GPL-3.
    for syntax in (uid.JPEGLosslessSV1, uid.JPEGLossless, uid.JPEGLSLossless):
        assert "pylibjpeg" not in plugins[syntax], "pylibjpeg-libjpeg (GPL-3) is installed"
    assert "gdcm" in plugins[uid.JPEGLosslessSV1] and "pylibjpeg" in plugins[uid.JPEG2000Lossless]


def test_decoders_are_app_dependencies():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=;\[ ]", dep)[0] for dep in project["dependencies"]}
    assert {"pylibjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "python-gdcm"} <= names
    assert "pylibjpeg-libjpeg" not in names


# --------------------------------------------------------------------------- what cannot be read


def _with_frame(data: bytes, frame: bytes) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PixelData = encapsulate([frame])
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.mark.parametrize("syntax", LOSSLESS_SYNTAXES, ids=SYNTAX_IDS.get)
def test_cut_compressed_stream_is_damaged_and_names_the_syntax(syntax):
    data = encoded(film(12), 12, syntax)
    frame = next(generate_frames(pydicom.dcmread(io.BytesIO(data)).PixelData, number_of_frames=1))
    err = load_error(_with_frame(data, frame[: len(frame) // 2]), "cut.dcm")
    assert err.reason is Reason.TRUNCATED
    assert f"compressed DICOM ({syntax.name}) could not be decoded" in str(err)
    assert "damaged or truncated" in str(err) and "cut.dcm" in str(err)
    assert "install" not in str(err)  # a clinic cannot install anything into the app


def test_rle_garbage_is_damaged_not_a_missing_decoder():
    # pydicom decodes RLE itself: never "install pylibjpeg-rle".
    garbage = encapsulate([b"\1\2\3" * 50])
    data = make_dicom(None, film(12), syntax=uid.RLELossless, pixel_data=garbage)
    err = load_error(data)
    assert err.reason is Reason.TRUNCATED and "RLE Lossless" in str(err)
    assert "pylibjpeg" not in str(err) and "install" not in str(err)


@pytest.mark.parametrize(
    ("syntax", "words"),
    [
        (uid.MPEG2MPML, "MPEG2 Main Profile / Main Level"),  # video: pydicom has no decoder at all
        (PRIVATE_SYNTAX, f"transfer syntax {PRIVATE_SYNTAX}"),  # a vendor's own compression
    ],
)
def test_syntax_without_decoder_is_unsupported_with_what_to_do(syntax, words):
    data = make_dicom(None, film(8), syntax=syntax, pixel_data=encapsulate([b"\0" * 64]))
    err = load_error(data, "video.dcm")
    assert err.reason is Reason.UNSUPPORTED_DICOM
    assert f"compressed DICOM ({words}) cannot be read" in str(err)
    assert "ask the X-ray unit or PACS to export it uncompressed" in str(err)


def test_12_bit_jpeg_extended_is_unsupported_not_damaged():
    data = encoded(film(12), 12, uid.JPEGExtended12Bit)
    err = load_error(data)
    assert err.reason is Reason.UNSUPPORTED_DICOM
    assert "12-bit" in str(err) and "ask the X-ray unit" in str(err)


def test_decoder_missing_from_the_installation_says_reinstall(monkeypatch):
    data = encoded(film(12), 12, uid.JPEGLosslessSV1)

    class NoPlugins:
        available_plugins = ()

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: NoPlugins())
    err = load_error(data)
    assert err.reason is Reason.UNSUPPORTED_DICOM
    assert "missing from this installation (reinstall the app)" in str(err)
    assert "Process 14 [Selection Value 1]" in str(err)


def test_parallel_decoding_in_threads_is_exact():
    # The scanner decodes in a thread pool: the decoders must not share state between calls.
    files = [
        (encoded(film(bits), bits, syntax), film(bits))
        for syntax in LOSSLESS_SYNTAXES
        for bits in (8, 12)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: decoded_values(item[0]), files * 6))
    for values, (_, stored) in zip(results, files * 6, strict=True):
        np.testing.assert_array_equal(values, stored)
