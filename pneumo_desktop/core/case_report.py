"""The case PDF: one film for the patient's record. The patient block, the film and its
Grad-CAM, the verdict with its band, threshold and where the threshold came from, the
"outside intended use" notice for a patient older than the model's range, the radiologist's
review, the impression (the stored review note) and the reader's name and date.

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
from .intended_use import age_notice, outside_intended_age
from .results import Prediction, StoredResult

_FILM_PIXELS = 1200  # longest side of the case report's film (~300 dpi at its printed size)
_IMPRESSION_LINES = 5

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


def _impression(figure: Figure, note: str, y: float) -> float:
    """The impression: the reader's note, or ruled lines to write on. Returns the next y."""
    figure.text(0.06, y, "Impression", fontsize=11, weight="bold", va="top")
    y -= 0.025
    if note:
        text = "\n".join(textwrap.wrap(note, 95)[:_IMPRESSION_LINES * 2])
        figure.text(0.06, y, text, fontsize=10, va="top", linespacing=1.4)
        return y - 0.018 * (text.count("\n") + 1) - 0.02
    for _ in range(_IMPRESSION_LINES):
        y -= 0.022
        figure.add_artist(Rectangle((0.06, y), 0.88, 0.0006, color="#999999"))
    return y - 0.02


def write_case_report(path: Path | str, image_path: Path | str, classifier, *,
                      loaded: LoadedImage | None = None, model_input: np.ndarray | None = None,
                      review: StoredResult | None = None, reader: str = "",
                      anonymise: bool = False) -> Path:
    """One page for one film (see the module doc). ``loaded``/``model_input`` spare a second
    decode when the caller has them; ``review`` is the film's stored result (its review and
    note, the note being the impression); ``reader`` signs it. Raises ImageLoadError if the
    film can't be read, OSError if ``path`` can't be written."""
    path = Path(path)
    loaded = load_image(image_path) if loaded is None else loaded
    if model_input is None:
        model_input = classifier.prepare(loaded)
    prediction = classifier.classify(model_input)
    cam = call_model(classifier, gradcam, model_input)  # on the model's thread, if it has one
    figure = pages.page(1, 1)
    figure.text(0.06, 0.955, "Pneumonia screening — case report", fontsize=18, weight="bold")
    patient = tag_lines(loaded.metadata, anonymise=anonymise)
    figure.text(0.06, 0.93, "\n".join(patient), fontsize=10, va="top", linespacing=1.5)
    film = pages.shrink(loaded.pixels, _FILM_PIXELS)
    for box, cam_map, title in (([0.05, 0.55, 0.44, 0.32], None, "Film"),
                                ([0.51, 0.55, 0.44, 0.32], cam, "Grad-CAM overlay")):
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
    context = loaded.dicom
    if context is not None and outside_intended_age(context.age_years):
        figure.text(0.06, 0.35, textwrap.fill("⚠ " + age_notice(context.age_text), 100),
                    fontsize=9,
                    weight="bold", color=pages.RED, va="top")
    y = _impression(figure, (review.note or "") if review is not None else "", 0.305)
    figure.text(0.06, y, f"Reader: {reader or '_' * 28}      Date: {pages.now_text()}      "
                f"Signature: {'_' * 22}", fontsize=10, va="top")
    notes = [pages.GRADCAM_NOTE] + ([pages.ANONYMISED_NOTE] if anonymise else [])
    figure.text(0.06, y - 0.035, "\n".join(textwrap.fill(n, 110) for n in notes), fontsize=7.5,
                color="#444444", va="top")
    pages.callout(figure, 0.075)
    with pages.atomic_pdf(path, f"Pneumonia screening: {Path(image_path).name}") as pdf:
        pdf.savefig(figure)
    log.info("wrote case report %s (%s%s)", path, Path(image_path).name,
             ", anonymised" if anonymise else "")
    return path
