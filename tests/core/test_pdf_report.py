"""PDF reports: a real tiny scan's report, pagination, placeholders, atomic writes, case pages.

No PDF library is installed, so the tests read the PDF themselves: pages are counted by their
``/Type /Page`` objects, and text is taken from the Flate-compressed content streams, where
matplotlib writes each string as ``[(pieces) kern (pieces)] TJ`` arrays in Type 3 fonts.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from pneumo_desktop.core.batch import run_scan
from pneumo_desktop.core.imaging import ImageLoadError
from pneumo_desktop.core.pdf_report import (
    INTENDED_USE_LINE,
    write_case_report,
    write_scan_report,
)
from pneumo_desktop.core.results import Band, Verdict
from pneumo_desktop.core.store import ResultStore
from tests.conftest import synthetic_xray
from tests.core.test_imaging import make_dicom

PAGE = re.compile(rb"/Type\s*/Page\b(?!s)")
OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
# matplotlib ends a stream with "\nendstream"; a compressed stream may itself end in a "\r"
# byte, which must stay (it did once, and the page's text went missing).
STREAM = re.compile(rb"stream\r?\n(.*?)\nendstream", re.S)
FONT_REF = re.compile(rb"/(F\d+) (\d+) 0 R")
UNICODE_REF = re.compile(rb"/ToUnicode (\d+) 0 R")
HEX = rb"<([0-9a-fA-F]+)>"
TEXT_OP = re.compile(rb"/(F\d+) [\d.]+ Tf|\[(.*?)\]\s*TJ|(ET)", re.S)
PDF_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.S)


def page_count(data: bytes) -> int:
    return len(PAGE.findall(data))


def _stream(body: bytes) -> bytes:
    match = STREAM.search(body)
    try:
        return zlib.decompress(match.group(1)) if match else b""
    except zlib.error:
        return b""  # not Flate-compressed: not text


def _cmap(stream: bytes) -> dict[int, str]:
    """Glyph code -> text, from a ToUnicode CMap's bfrange lines (matplotlib writes those)."""
    table = {}
    for first, last, targets in re.findall(HEX + rb"\s*" + HEX + rb"\s*\[(.*?)\]", stream):
        for code, target in zip(range(int(first, 16), int(last, 16) + 1),
                                re.findall(HEX, targets), strict=False):
            table[code] = bytes.fromhex(target.decode()).decode("utf-16-be")
    return table


def pdf_text(data: bytes) -> str:
    """The text of every page, one line per text item, decoded through each font's ToUnicode
    map (matplotlib puts ligatures and non-ASCII glyphs in extra fonts)."""
    objects = {int(n): body for n, body in OBJECT.findall(data)}
    fonts = {}
    for name, number in FONT_REF.findall(data):
        ref = UNICODE_REF.search(objects.get(int(number), b""))
        fonts[name] = _cmap(_stream(objects[int(ref.group(1))])) if ref else {}
    lines, line = [], []
    for body in objects.values():
        if re.search(rb"/Subtype\s*/Image", body):
            continue  # pixels, not text
        font: dict[int, str] = {}
        for name, array, end in TEXT_OP.findall(_stream(body)):
            if name:
                font = fonts.get(name, {})
            elif end:
                lines.append("".join(line))
                line = []
            else:
                for piece in PDF_STRING.findall(array):
                    raw = re.sub(rb"\\(.)", rb"\1", piece)
                    line.extend(font.get(byte, chr(byte)) for byte in raw)
    return "\n".join(lines)


def assert_clean_pdf(path: Path) -> bytes:
    """A complete PDF, and no temp file left beside it."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return data


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, tiny_classifier):
    """A real scan of 8 synthetic films and one broken file: (scan info, results)."""
    folder = tmp_path_factory.mktemp("films")
    rng = np.random.default_rng(7)
    for index in range(8):
        pixels = synthetic_xray(rng, pneumonia=index % 2 == 0, size=96)
        Image.fromarray(pixels).save(folder / f"case_{index:02d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    with ResultStore(tmp_path_factory.mktemp("db") / "r.sqlite3") as store:
        scan_id = list(run_scan(store, tiny_classifier, folder))[0].scan_id
        return store.scan(scan_id), store.results(scan_id)


def test_scan_report_of_a_real_scan(scanned, tiny_classifier, tmp_path):
    info, results = scanned
    assert len(results) == 9 and results[-1].status == "error"
    bands = {r.band for r in results} - {None}
    expected_pages = 1 + 1 + len(bands)  # summary, 9 rows, a page of thumbnails a band
    calls = []
    out = tmp_path / "out" / "scan.pdf"
    assert write_scan_report(out, info, results, tiny_classifier,
                             progress=lambda *args: calls.append(args)) == out
    data = assert_clean_pdf(out)
    assert page_count(data) == expected_pages
    assert calls == [(n, expected_pages) for n in range(1, expected_pages + 1)]
    text = pdf_text(data)
    for index in range(8):
        assert f"case_{index:02d}.png" in text
    assert "broken.jpg" in text and "error: " in text
    for band in bands:
        assert band.wording in text
    assert f"{results[0].threshold:.4f} factory" in text  # every verdict with its threshold
    assert f"page {expected_pages}/{expected_pages}" in text
    assert text.count(INTENDED_USE_LINE) == expected_pages  # the footer of every page
    assert f"{len(results)} of 9" in text and f"#{info.id}" in text
    assert f"{tiny_classifier.card.name} {tiny_classifier.card.version}" in text
    assert f"Pneumonia screening: scan #{info.id}".encode() in data  # the document title


def test_many_rows_paginate_and_thumbnails_are_capped_with_placeholders(scanned, tmp_path):
    info, results = scanned
    real = [r for r in results if r.status == "ok"][0]
    long_name = "pacs_export_" + "x" * 80 + "_end.png"
    rows = [dataclasses.replace(real, path=str(tmp_path / f"gone_{i:02d}.png"),
                                probability=0.99 - i / 100, verdict=Verdict.PNEUMONIA,
                                band=Band.LIKELY)
            for i in range(79)]
    rows.insert(0, dataclasses.replace(real, path=str(tmp_path / long_name),
                                       probability=0.995, verdict=Verdict.PNEUMONIA,
                                       band=Band.LIKELY))
    out = tmp_path / "big.pdf"
    write_scan_report(out, info, rows, None)  # no model: thumbnails without overlays
    data = assert_clean_pdf(out)
    assert page_count(data) == 1 + 3 + 1  # 80 rows at 35 a page; the top 12 of the band
    text = pdf_text(data)
    assert "Pneumonia likely: the 12 most suspicious of 80 — 1–12" in text
    assert "rows 71–80 of 80" in text
    assert "gone_00.png" in text and "unreadable: missing" in text
    assert long_name not in text and "pacs_export_" in text and "_end.png" in text
    assert "page 5/5" in text
    write_scan_report(out, info, rows, None, thumbnails_per_band=0)
    assert page_count(assert_clean_pdf(out)) == 1 + 3


def test_unwritable_destination_raises_and_leaves_nothing(scanned, tmp_path):
    info, results = scanned
    target = tmp_path / "report.pdf"
    target.mkdir()  # a folder where the file should go: the final rename fails
    with pytest.raises(OSError):
        write_scan_report(target, info, results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"] and target.is_dir()
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file")
    with pytest.raises(OSError):
        write_scan_report(blocker / "report.pdf", info, results)


def test_a_failure_mid_report_keeps_the_previous_file(scanned, tmp_path):
    info, results = scanned
    out = tmp_path / "scan.pdf"
    out.write_bytes(b"previous report")

    def fail(page: int, pages: int) -> None:
        if page == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_scan_report(out, info, results, progress=fail)
    assert out.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["scan.pdf"]


def test_case_report_of_a_film(tiny_classifier, tmp_path):
    film = tmp_path / "films" / "patient_07.png"
    film.parent.mkdir()
    Image.fromarray(synthetic_xray(np.random.default_rng(2), True, size=128)).save(film)
    out = tmp_path / "case" / "patient_07.pdf"
    assert write_case_report(out, film, tiny_classifier) == out
    data = assert_clean_pdf(out)
    assert page_count(data) == 1
    text = pdf_text(data)
    assert re.search(r"^(NORMAL|PNEUMONIA)$", text, re.M)
    assert re.search(r"P\(pneumonia\) = 0\.\d{3,6} \(threshold 0\.\d{3,6}\)", text)
    card = tiny_classifier.card
    assert f"Model: {card.name} {card.version}" in text
    assert "patient_07.png (128 × 128 px, PNG)" in text
    assert INTENDED_USE_LINE in text and "page 1/1" in text
    assert "Patient:" not in text  # a PNG has no patient tags


def test_case_report_of_a_dicom_shows_patient_and_study(tiny_classifier, tmp_path):
    pixels = synthetic_xray(np.random.default_rng(5), False, size=96)
    path = tmp_path / "study.dcm"
    make_dicom(path, pixels, PatientName="DOE^JANE", PatientID="P42", PatientSex="F",
               PatientAge="004Y", StudyDate="20240131", StudyDescription="CHEST PA",
               Modality="CR")
    assert pydicom.dcmread(path).PatientID == "P42"
    out = tmp_path / "out" / "study.pdf"
    write_case_report(out, path, tiny_classifier)
    text = pdf_text(assert_clean_pdf(out))
    assert "Patient: DOE JANE · ID P42 · F · 004Y" in text
    assert "Study: 2024-01-31 · CHEST PA · CR" in text
    assert "study.dcm (96 × 96 px, DICOM)" in text


def test_case_report_of_an_unreadable_film_raises_and_writes_nothing(tiny_classifier, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    with pytest.raises(ImageLoadError):
        write_case_report(tmp_path / "out.pdf", broken, tiny_classifier)
    assert [p.name for p in tmp_path.iterdir()] == ["broken.png"]



def test_thumbnails_come_from_the_top_of_every_band_so_borderline_films_show(tmp_path):
    from pneumo_desktop.core.results import Status, StoredResult
    from pneumo_desktop.core.scan_report import band_tops

    def film(name: str, p: float, band: Band | None, verdict=Verdict.PNEUMONIA):
        return StoredResult(str(tmp_path / name), Status.OK, p, verdict, band, 0.2)

    rows = [film(f"likely_{i}", 0.99 - i / 100, Band.LIKELY) for i in range(20)]
    rows += [film(f"possible_{i}", 0.5 - i / 100, Band.POSSIBLE) for i in range(5)]
    rows += [film(f"unlikely_{i}", 0.19 - i / 200, Band.UNLIKELY, Verdict.NORMAL)
             for i in range(30)]
    rows.append(film("legacy", 0.15, None, Verdict.NORMAL))  # scanned before bands
    rows.append(StoredResult(str(tmp_path / "broken"), Status.ERROR))
    tops = band_tops(rows[::-1], 3)
    assert [(band, [Path(r.path).name for r in films], count) for band, films, count in tops] \
        == [(Band.LIKELY, ["likely_0", "likely_1", "likely_2"], 20),
            (Band.POSSIBLE, ["possible_0", "possible_1", "possible_2"], 5),
            (Band.UNLIKELY, ["unlikely_0", "unlikely_1", "unlikely_2"], 31)]
    info = type("Scan", (), dict(id=3, folder=str(tmp_path), started=None, finished=None,
                                 state="complete", model_name="m", model_version="1",
                                 threshold=0.2, total_files=57))()
    write_scan_report(tmp_path / "bands.pdf", info, rows, None, thumbnails_per_band=3)
    text = pdf_text((tmp_path / "bands.pdf").read_bytes())
    assert "Pneumonia likely: the 3 most suspicious of 20 — 1–3" in text
    assert "Possible pneumonia — look: the 3 most suspicious of 5 — 1–3" in text
    assert "No pneumonia found: the 3 nearest the threshold of 31 — 1–3" in text


def test_case_report_draws_grad_cam_as_the_viewer_does(tiny_classifier, tmp_path, monkeypatch):
    """Warm colours only (no jet blue), scaled by the verdict's strength: the viewer's picture."""
    from pneumo_desktop.core import pdf_pages
    from pneumo_desktop.core.explain import gradcam
    from pneumo_desktop.core.imaging import load_image
    from pneumo_desktop.core.overlays import evidence_strength, gradcam_rgba

    drawn = []
    real_show_film = pdf_pages.show_film

    def recording_show_film(ax, pixels, overlay=None):
        drawn.append(overlay)
        real_show_film(ax, pixels, overlay)

    monkeypatch.setattr(pdf_pages, "show_film", recording_show_film)
    film = tmp_path / "film.png"
    Image.fromarray(synthetic_xray(np.random.default_rng(3), True, size=128)).save(film)
    write_case_report(tmp_path / "case.pdf", film, tiny_classifier)

    model_input = tiny_classifier.prepare(load_image(film))
    prediction = tiny_classifier.classify(model_input)
    strength = evidence_strength(prediction.probability, prediction.threshold)
    assert drawn[0] is None  # the plain film
    overlay = drawn[1]
    np.testing.assert_array_equal(overlay, gradcam_rgba(gradcam(tiny_classifier, model_input),
                                                        strength))
    shown = overlay[..., 3] > 0
    assert overlay[..., 3].max() <= np.ceil(255 * strength)
    red, green, blue = (overlay[..., i][shown].astype(int) for i in range(3))
    assert (red >= green).all() and (green >= blue).all()  # yellow → red, never blue


def test_scan_report_thumbnails_draw_grad_cam_scaled_by_each_film_s_verdict(
        scanned, tiny_classifier, tmp_path, monkeypatch):
    from pneumo_desktop.core import scan_report
    from pneumo_desktop.core.overlays import evidence_strength

    drawn = []
    real_show_film = scan_report.show_film
    monkeypatch.setattr(scan_report, "show_film", lambda ax, pixels, overlay=None: (
        drawn.append(overlay), real_show_film(ax, pixels, overlay)))
    info, results = scanned
    write_scan_report(tmp_path / "scan.pdf", info, results, tiny_classifier)
    classified = [r for r in results if r.band is not None]
    assert len(drawn) == len(classified) and all(o.dtype == np.uint8 for o in drawn)
    # Each thumbnail as bright as its own verdict allows, never more.
    ceilings = sorted(np.ceil(255 * evidence_strength(r.probability, r.threshold))
                      for r in classified)
    brightest = sorted(int(o[..., 3].max()) for o in drawn)
    assert all(shown <= ceiling for shown, ceiling in zip(brightest, ceilings, strict=True))
