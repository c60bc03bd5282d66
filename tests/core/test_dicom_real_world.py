"""Films as clinics send them: headers with values DICOM does not allow, written the way
modalities write them (the tests patch the bytes, since pydicom refuses to write them)."""

from __future__ import annotations

import numpy as np
import pytest

from pneumo_desktop.core.imaging import load_image_bytes
from tests.dicom_films import make_dicom

# The films carry malformed values on purpose; pydicom warns about each.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
STORED = np.linspace(0, 4095, 32 * 48).reshape(32, 48).astype(np.uint16)


def patched(old: bytes, new: bytes, **attrs) -> bytes:
    """A film whose value ``old`` (written through ``attrs``) is replaced by ``new`` in the
    file's bytes, as a modality that ignores the standard would have written it."""
    data = make_dicom(None, STORED, **attrs)
    assert len(old) == len(new) and data.count(old) == 1
    return data.replace(old, new)


def pixels(data: bytes) -> np.ndarray:
    return load_image_bytes(data, "film.dcm").pixels


# --------------------------------------------------------------------------- grey values


@pytest.mark.parametrize(
    "data",
    [
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=0),
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=-5),
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=500, VOILUTFunction="BOGUS"),
        patched(b"1234.5", b"abc   ", WindowCenter="1234.5", WindowWidth=500),
        patched(b"1234.5", b"wide  ", WindowCenter=1000, WindowWidth="1234.5"),
    ],
    ids=["width 0", "width negative", "unknown function", "centre not a number",
         "width not a number"],
)
def test_a_malformed_window_is_ignored_and_the_film_shown_over_its_range(data):
    # A window is a display preset: a broken one must not cost the film.
    np.testing.assert_array_equal(pixels(data), pixels(make_dicom(None, STORED)))


def test_a_malformed_rescale_is_ignored_with_the_window_that_depends_on_it():
    data = patched(b"1234.5", b"abc   ", RescaleSlope="1234.5", RescaleIntercept=-1024,
                   WindowCenter=0, WindowWidth=400)
    np.testing.assert_array_equal(pixels(data), pixels(make_dicom(None, STORED)))


def test_a_malformed_window_on_monochrome1_still_shows_bone_white():
    data = make_dicom(None, STORED, photometric="MONOCHROME1", WindowCenter=1, WindowWidth=0)
    np.testing.assert_array_equal(pixels(data), 255 - pixels(make_dicom(None, STORED)))
