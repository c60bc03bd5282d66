"""Not a chest X-ray: photographs, scanned pages, blanks, CT and MR slices must come out as
``not_xray``, while real chest films must not. The non-X-ray set is built from images that
installed packages ship (scikit-image's samples, pydicom's CT/MR test files) and images drawn
here; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pneumo_desktop.core.imaging import ImageLoadError, load_image
from pneumo_desktop.core.model import Classifier
from pneumo_desktop.core.results import Status
from pneumo_desktop.core.scan import list_images, scan_files
from tests.conftest import MODELS_DIR, real_data_dir

MAX_XRAYS_REFUSED = 0.01
MIN_NON_XRAYS_CAUGHT = 0.95


def _package_images() -> list[tuple[str, np.ndarray]]:
    import pydicom.data
    import skimage

    images = []
    skimage_data = Path(skimage.__file__).parent / "data"
    for path in sorted(skimage_data.iterdir()):
        if path.suffix.lower() in (".png", ".jpg", ".tif"):
            try:
                images.append((f"skimage/{path.name}", load_image(path).pixels))
            except ImageLoadError:
                continue
    faces = np.load(skimage_data / "lfw_subset.npy")  # 25x25 face crops, floats 0..1
    for index in range(0, len(faces), 10):
        images.append((f"skimage/lfw_{index}", (faces[index] * 255).astype(np.uint8)))
    test_files = Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent
    for path in sorted(test_files.glob("*.dcm")):
        try:
            images.append((f"pydicom/{path.name}", load_image(path).pixels))
        except ImageLoadError:
            continue  # compressed files without a decoder, broken test files
    return images


def _drawn_images() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(42)
    size = 400
    drawn = [
        ("blank black", np.zeros((size, size), np.uint8)),
        ("blank white", np.full((size, size), 255, np.uint8)),
        ("blank grey", np.full((size, size), 128, np.uint8)),
        ("gradient", np.tile(np.linspace(0, 255, size, dtype=np.uint8), (size, 1))),
        ("noise", rng.integers(0, 256, (size, size), dtype=np.uint8)),
        ("checkerboard", ((np.indices((size, size)) // 40).sum(axis=0) % 2 * 255).astype(np.uint8)),
    ]
    for index in range(3):
        page = Image.new("L", (size, int(size * 1.4)), 245)
        draw = ImageDraw.Draw(page)
        for line in range(30):
            y = 20 + line * 18
            width = int(rng.integers(200, size - 40))
            draw.text((20, y), "Patient consent form " * 3, fill=20)
            draw.line((20, y + 14, width, y + 14), fill=int(rng.integers(100, 200)))
        drawn.append((f"scanned page {index}", np.asarray(page)))
    for index in range(3):
        shapes = Image.new("L", (size, size), int(rng.integers(0, 255)))
        draw = ImageDraw.Draw(shapes)
        for _ in range(12):
            x, y = rng.integers(0, size, 2)
            r = int(rng.integers(10, 80))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=int(rng.integers(0, 255)))
        drawn.append((f"shapes {index}", np.asarray(shapes)))
    return drawn


def non_xray_set() -> list[tuple[str, np.ndarray]]:
    return _package_images() + _drawn_images()


@pytest.fixture(scope="module")
def bundled_classifier() -> Classifier:
    classifier = Classifier(MODELS_DIR)
    if classifier.heads is None:
        pytest.fail("the bundled model card has no not-an-X-ray head (python -m training heads)")
    return classifier


def test_non_xrays_are_refused(bundled_classifier):
    items = non_xray_set()
    assert len(items) >= 40
    inputs = np.stack([bundled_classifier.prepare(pixels) for _, pixels in items])
    statuses = [prediction.status for prediction in bundled_classifier.classify_batch(inputs)]
    missed = [name for (name, _), status in zip(items, statuses, strict=True)
              if status is not Status.NOT_XRAY]
    caught = 1 - len(missed) / len(items)
    print(f"\nnon-X-rays caught: {caught:.1%} of {len(items)}; missed: {missed}")
    assert caught >= MIN_NON_XRAYS_CAUGHT, f"missed {missed}"


def test_real_test_set_xrays_are_not_refused(bundled_classifier):
    files = list_images(real_data_dir() / "test")
    results = list(scan_files(files, bundled_classifier))
    refused = [r.path for r in results if r.status == "not_xray"]
    share = len(refused) / len(results)
    print(f"\ntest-set X-rays refused as not_xray: {len(refused)}/{len(results)} = {share:.2%}")
    assert share <= MAX_XRAYS_REFUSED, refused[:10]
