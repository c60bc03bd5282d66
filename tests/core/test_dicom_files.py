"""DICOM found by content: a CD or PACS export names its films IM000001 or by UID, with no
image suffix; scans must count them, and skip the DICOMDIR index and other files."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import JPEGLosslessSV1

from pneumo_desktop.core.scan import list_images
from tests.conftest import synthetic_xray
from tests.dicom_films import compress_dicom, make_dicom

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A disc as CR units write it: DICOMDIR at the top, films without suffix in sub-folders
    (one JPEG Lossless, as they are usually sent), plus files that are no films."""
    root = tmp_path / "CD export"
    series = root / "DICOM" / "ST000000" / "SE000000"
    series.mkdir(parents=True)
    film = synthetic_xray(np.random.default_rng(3), True, size=160).astype(np.uint16) * 16
    make_dicom(series / "IM000001", film)
    (series / "IM000002").write_bytes(compress_dicom(make_dicom(None, film), JPEGLosslessSV1))
    make_dicom(root / "1.2.840.113619.2.55.3.604688.1", film)  # named by its UID
    make_dicom(root / "DICOMDIR", None)  # stands in for the index: DICM, no film
    (root / "README").write_text("Viewer for Windows on this disc")
    (root / "AUTORUN.INF").write_text("[autorun]")
    return root


def expected_films(root: Path) -> list[Path]:
    series = root / "DICOM" / "ST000000" / "SE000000"
    by_uid = root / "1.2.840.113619.2.55.3.604688.1"
    return sorted([series / "IM000001", series / "IM000002", by_uid])


def test_list_images_counts_extensionless_dicom_and_skips_the_rest(export):
    assert list_images(export) == expected_films(export)


def test_pneumo_scan_reads_every_film_of_an_export(export, tiny_models_dir, tmp_path):
    out = tmp_path / "results.csv"
    done = subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.cli", str(export), "--out", str(out),
         "--models-dir", str(tiny_models_dir)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stderr
    rows = {Path(row["path"]): row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert sorted(rows) == expected_films(export)
    for row in rows.values():  # classified (or refused as not a chest film), never unreadable
        assert row["status"] in ("ok", "not_xray"), row
    assert "scanned 3/3 images" in done.stderr
