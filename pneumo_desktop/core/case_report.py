"""The case PDF: one film for the patient's record. The patient block, the film and its
Grad-CAM, the verdict with its band, threshold and where the threshold came from, the
"outside intended use" notice for a patient older than the model's range, the radiologist's
review, the impression (the stored review note, continued on further pages when it is long,
never cut) and the reader's name and date.

``anonymise`` leaves out the patient's name and ID (age, sex and study stay).
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import pdf_pages as pages
from .explain import gradcam
from .imaging import LoadedImage, load_image
from .inference import call_model
from .intended_use import intended_use_notice
from .overlays import evidence_strength, gradcam_rgba
from .results import Prediction, StoredResult

_FILM_PIXELS = 1200  # longest side of the case report's film (~300 dpi at its printed size)
_IMPRESSION_LINES = 5  # ruled lines to write on when there is no note
_IMPRESSION_WIDTH = 95  # characters per line of the impression
# Heights in page fractions (A4 is 842 pt tall): 10 pt text at 1.4 line spacing, the ruled
# lines' pitch, and 7.5 pt footnote text at matplotlib's 1.2.
_TEXT_LINE = 0.018
_RULED_LINE = 0.022
_NOTE_LINE = 7.5 * 1.2 / (pages.A4[1] * 72)
_CALLOUT_Y = 0.075  # centre of the red intended-use box; it reaches up to about 0.10
_NOTES_BOTTOM = 0.112
_LINES_PER_PAGE = 44  # impression lines on a continuation page

log = logging.getLogger(__name__)


def tag_lines(tags: dict[str, str], *, anonymise: bool = False) -> list[str]:
    """DICOM patient and study tags, as the viewer shows them."""
    patient = [] if anonymise else [tags.get("PatientName", "").replace("^", " ").strip()]
    if "PatientID" in tags and not anonymise:
        patient.append(f"ID {tags['PatientID']}")
    patient += [tags[key] for key in ("PatientSex", "PatientAge") if key in tags]
    date = tags.get("StudyDate", "")
    if len(date) == 8 and date.isdigit():  # DICOM DA is YYYYMMDD
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    study = [date] + [tags[k] for k in ("StudyDescription", "Modality", "ViewPosition")
                      if k in tags]
    lines = []
    if any(patient):
        lines.append("Patient: " + " · ".join(part for part in patient if part))
    if any(study):
        lines.append("Study: " + " · ".join(part for part in study if part))
    return lines


def _verdict_block(figure: Figure, prediction: Prediction, y: float) -> None:
    verdict = prediction.verdict or "NOT AN X-RAY"
    colour = pages.VERDICT_COLOURS.get(prediction.verdict, "#555555")
    figure.text(0.06, y, verdict, fontsize=22, weight="bold", color="white", va="center",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": colour})
    if prediction.band is not None:
        figure.text(0.42, y, prediction.band.wording, fontsize=16, weight="bold", va="center",
                    color=pages.BAND_COLOURS[prediction.band])


def _review_line(review: StoredResult | None) -> str:
    words = pages.review_words(review) if review is not None else ""
    return f"Radiologist's review: {words}" if words else "Radiologist's review: not recorded"


def impression_lines(note: str) -> list[str]:
    """The reader's note wrapped for the page, its own line breaks kept."""
    return [line for paragraph in note.splitlines()
            for line in (textwrap.wrap(paragraph, _IMPRESSION_WIDTH) or [""])]


def _impression(figure: Figure, lines: list[str], top: float, floor: float) -> list[str]:
    """The impression between ``top`` and ``floor``: the note's lines, or ruled lines to write
    on. Returns the lines that did not fit (they go on continuation pages, never dropped)."""
    figure.text(0.06, top, "Impression", fontsize=11, weight="bold", va="top")
    y = top - 0.025
    room = int((y - floor) / _TEXT_LINE)
    if not lines:
        for _ in range(min(_IMPRESSION_LINES, int((y - floor) / _RULED_LINE))):
            y -= _RULED_LINE
            figure.add_artist(Rectangle((0.06, y), 0.88, 0.0006, color="#999999"))
        return []
    shown, rest = (lines, []) if len(lines) <= room else (lines[:room - 1], lines[room - 1:])
    if rest:
        shown = shown + ["… continued on the next page"]
    figure.text(0.06, y, "\n".join(shown), fontsize=10, va="top", linespacing=1.4)
    return rest


def _footnotes(figure: Figure, notes: list[str], reader: str) -> float:
    """The notes above the red callout and the reader's line above them, drawn bottom-up so
    nothing overlaps; returns the height the impression must stay above."""
    lines = [line for note in notes for line in textwrap.wrap(note, 110)]
    figure.text(0.06, _NOTES_BOTTOM, "\n".join(lines), fontsize=7.5, color="#444444",
                va="bottom")
    reader_y = _NOTES_BOTTOM + len(lines) * _NOTE_LINE + 0.012
    figure.text(0.06, reader_y, f"Reader: {reader or '_' * 28}      Date: {pages.now_text()}      "
                f"Signature: {'_' * 22}", fontsize=10, va="bottom")
    pages.callout(figure, _CALLOUT_Y)
    return reader_y + 0.025


def _continuation(lines: list[str], patient: list[str]) -> Figure:
    figure = pages.page()
    figure.text(0.06, 0.955, "Impression (continued)", fontsize=14, weight="bold")
    figure.text(0.06, 0.93, "\n".join(patient), fontsize=10, va="top", linespacing=1.5)
    figure.text(0.06, 0.88, "\n".join(lines), fontsize=10, va="top", linespacing=1.4)
    return figure


def write_case_report(path: Path | str, image_path: Path | str, classifier, *,
                      loaded: LoadedImage | None = None, model_input: np.ndarray | None = None,
                      review: StoredResult | None = None, reader: str = "",
                      anonymise: bool = False) -> Path:
    """The case PDF for one film (see the module doc): one page, more when a long impression
    continues. ``loaded``/``model_input`` spare a second decode when the caller has them;
    ``review`` is the film's stored result (its review and note, the note being the
    impression); ``reader`` signs it. Raises ImageLoadError if the film can't be read, OSError
    if ``path`` can't be written."""
    path = Path(path)
    figures = case_pages(image_path, classifier, loaded=loaded, model_input=model_input,
                         review=review, reader=reader, anonymise=anonymise)
    with pages.atomic_pdf(path, f"Pneumonia screening: {Path(image_path).name}") as pdf:
        for each in figures:
            pdf.savefig(each)
    log.info("wrote case report %s (%s%s)", path, Path(image_path).name,
             ", anonymised" if anonymise else "")
    return path


def case_pages(image_path: Path | str, classifier, *, loaded: LoadedImage | None = None,
               model_input: np.ndarray | None = None, review: StoredResult | None = None,
               reader: str = "", anonymise: bool = False) -> list[Figure]:
    """The case report's pages, numbered (arguments as :func:`write_case_report`)."""
    loaded = load_image(image_path) if loaded is None else loaded
    if model_input is None:
        model_input = classifier.prepare(loaded)
    prediction = classifier.classify(model_input)
    cam = call_model(classifier, gradcam, model_input)  # on the model's thread, if it has one
    overlay = gradcam_rgba(cam, evidence_strength(prediction.probability, prediction.threshold))
    figure = pages.page()
    figure.text(0.06, 0.955, "Pneumonia screening — case report", fontsize=18, weight="bold")
    patient = tag_lines(loaded.metadata, anonymise=anonymise)
    figure.text(0.06, 0.93, "\n".join(patient), fontsize=10, va="top", linespacing=1.5)
    film = pages.shrink(loaded.pixels, _FILM_PIXELS)
    for box, cam_map, title in (([0.05, 0.55, 0.44, 0.32], None, "Film"),
                                ([0.51, 0.55, 0.44, 0.32], overlay, "Grad-CAM overlay")):
        ax = figure.add_axes(box)
        pages.show_film(ax, film, cam_map)
        ax.set_title(title, fontsize=10)
    _verdict_block(figure, prediction, 0.5)
    card = classifier.card
    width, height = loaded.original_size
    lines = [
        prediction.probability_text,
        f"Operating threshold {prediction.threshold:.4f}, source: {prediction.threshold_source}",
        f"Model: {card.name} {card.version}",
        f"File: {pages.short(Path(image_path).name, 80)} "
        f"({width} × {height} px, {loaded.format})",
        _review_line(review),
    ]
    figure.text(0.06, 0.465, "\n".join(lines), fontsize=10, va="top", linespacing=1.55)
    if (notice := intended_use_notice(loaded.dicom)) is not None:
        figure.text(0.06, 0.35, textwrap.fill("⚠ " + notice, 100),
                    fontsize=9,
                    weight="bold", color=pages.RED, va="top")
    notes = [pages.GRADCAM_NOTE] + ([pages.ANONYMISED_NOTE] if anonymise else [])
    floor = _footnotes(figure, notes, reader)
    note = (review.note or "") if review is not None else ""
    rest = _impression(figure, impression_lines(note), 0.305, floor)
    chunks = [rest[i:i + _LINES_PER_PAGE] for i in range(0, len(rest), _LINES_PER_PAGE)]
    figures = [figure] + [_continuation(chunk, patient) for chunk in chunks]
    for number, each in enumerate(figures, start=1):
        pages.number_page(each, number, len(figures))
    return figures
