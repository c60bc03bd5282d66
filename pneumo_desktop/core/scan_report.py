"""The scan PDF: a summary, the worklist with every verdict's band, threshold and source, the
patient, the reviews (overridden films marked), the notes, then thumbnails from the top of
each band, so borderline films are seen too and not only the most certain ones.

``anonymise`` leaves out patient names and IDs (the age and study date stay, as in the CSV).
The bacterial/viral subtype is not a column: it is a secondary estimate, which the worklist
shows only in the verdict's tooltip and the preview pane, and the CSV keeps in its own
columns.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .explain import gradcam
from .grouping import patient_text
from .imaging import ImageLoadError, load_image
from .inference import call_model
from .overlays import evidence_strength, gradcam_rgba
from .pdf_pages import (
    ANONYMISED_NOTE,
    BAND_COLOURS,
    GRADCAM_NOTE,
    RED,
    atomic_pdf,
    callout,
    local_time,
    now_text,
    page,
    review_words,
    short,
    show_film,
    shrink,
    threshold_words,
    verdict_colour,
    verdict_words,
)
from .results import Band, Reason, ReviewMark, Status, StoredResult, Verdict

ROWS_PER_PAGE = 35
NOTE_LINES_PER_PAGE = 58
GRID = (4, 3)  # thumbnail rows x columns per page
THUMBNAILS_PER_BAND = 12
_THUMB_PIXELS = 384  # longest side of an embedded thumbnail: 36 films stay a few MB
_OUTSIDE = "†"  # marks a verdict on a film outside the intended age
_OVERRIDDEN_SHADE = "#ffe6cc"
Progress = Callable[[int, int], None]

log = logging.getLogger(__name__)


def band_of(result: StoredResult) -> Band | None:
    """The band (rows scanned before bands: by their verdict); None without a verdict."""
    if result.status is not Status.OK or result.probability is None:
        return None
    if result.band is not None:
        return result.band
    return Band.LIKELY if result.verdict is Verdict.PNEUMONIA else Band.UNLIKELY


def band_tops(results: list[StoredResult], per_band: int
              ) -> list[tuple[Band, list[StoredResult], int]]:
    """For each band with films: its ``per_band`` highest P (for "no pneumonia found" those
    nearest the threshold: the borderline ones) and how many films the band has."""
    tops = []
    for band in Band:
        members = sorted((r for r in results if band_of(r) is band),
                         key=lambda r: -r.probability)
        if members and per_band > 0:
            tops.append((band, members[:per_band], len(members)))
    return tops


def _threshold_summary(results: list[StoredResult], scan) -> str:
    made = {(r.threshold, r.threshold_source) for r in results if r.threshold is not None}
    if len(made) > 1:
        return "varies (a site profile changed during the scan): see each row"
    if made:
        threshold, source = made.pop()
        return f"{threshold:.4f} ({source or 'source unknown'})"
    return "—" if scan.threshold is None else f"{scan.threshold:.4f}"


def _summary_page(figure: Figure, scan, results: list[StoredResult], tops, with_cam: bool,
                  anonymise: bool) -> None:
    reviews = [r.review for r in results]
    total = "?" if scan.total_files is None else scan.total_files
    bands = [band_of(r) for r in results]
    lines = [
        ("Scan", f"#{scan.id} ({scan.state})"),
        ("Folder", "\n".join(textwrap.wrap(scan.folder, 70)) or "—"),
        ("Started", local_time(scan.started)),
        ("Finished", local_time(scan.finished)),
        ("Model", f"{scan.model_name or '?'} {scan.model_version or ''}".strip()),
        ("Operating threshold", _threshold_summary(results, scan)),
        ("Report written", now_text()),
        ("", ""),
        ("Files with a result", f"{len(results)} of {total}"),
        *((band.wording, str(bands.count(band))) for band in Band),
        ("Not an X-ray", str(sum(r.status is Status.NOT_XRAY for r in results))),
        ("Could not be read", str(sum(r.status is Status.ERROR for r in results))),
        (f"Outside intended use {_OUTSIDE}",
         str(sum(r.reason is Reason.OUTSIDE_INTENDED_AGE for r in results))),
        ("Reviewed", f"{sum(v is not None for v in reviews)} (agreed "
                     f"{reviews.count(ReviewMark.AGREE)}, overridden "
                     f"{reviews.count(ReviewMark.DISAGREE)})"),
        ("With a note", str(sum(bool(r.note) for r in results))),
    ]
    figure.text(0.06, 0.93, "Pneumonia screening — scan report", fontsize=18, weight="bold")
    y = 0.87
    for label, value in lines:
        figure.text(0.06, y, label, fontsize=10, color="#444444", va="top")
        figure.text(0.36, y, value, fontsize=10, va="top")
        y -= 0.026 * (value.count("\n") + 1)
    notes = ["The worklist follows, most suspicious first; then the reviews and notes."]
    if tops:
        shown = ", ".join(f"{len(films)} {band.wording.split(' —')[0].lower()}"
                          for band, films, _count in tops)
        notes.append(f"Then the top of each band ({shown})"
                     + (" with a Grad-CAM overlay." if with_cam else " (no model: no overlay)."))
        if with_cam:
            notes.append(GRADCAM_NOTE)
    if anonymise:
        notes.append(ANONYMISED_NOTE)
    figure.text(0.06, y - 0.015, "\n".join(textwrap.fill(n, 95) for n in notes), fontsize=9,
                va="top")
    callout(figure, 0.1)


_COLUMNS = (  # header, x position (figure fraction), characters it holds at 6.5 pt
    ("#", 0.045, 5), ("File", 0.07, 25), ("P", 0.225, 6), ("Verdict", 0.27, 27),
    ("Threshold", 0.44, 15), ("Patient · study", 0.535, 44), ("Review", 0.78, 24),
)


def _row_cells(result: StoredResult, rank: int, anonymise: bool) -> list[str]:
    probability = "" if result.probability is None else f"{result.probability:.3f}"
    verdict = verdict_words(result)
    if result.reason is Reason.OUTSIDE_INTENDED_AGE:
        verdict += f" {_OUTSIDE}"
    study = result.study
    patient = " · ".join(part for part in (patient_text(result, anonymise=anonymise),
                                           study.study_date if study else "") if part)
    cells = (str(rank), Path(result.path).name, probability, verdict,
             threshold_words(result.threshold, result.threshold_source), patient,
             review_words(result))
    return [short(text, width) for text, (_h, _x, width) in zip(cells, _COLUMNS, strict=True)]


def _table_page(figure: Figure, rows: list, first_rank: int, count: int,
                anonymise: bool) -> None:
    last = first_rank + len(rows) - 1
    figure.text(0.05, 0.95, f"Worklist, most suspicious first — rows {first_rank}–{last} of "
                f"{count}", fontsize=12, weight="bold")
    top, step = 0.915, 0.024
    for header, x, _width in _COLUMNS:
        figure.text(x, top, header, fontsize=7.5, weight="bold", va="center")
    figure.add_artist(Rectangle((0.045, top - step / 2), 0.91, 0.0007, color="black"))
    for index, result in enumerate(rows):
        y = top - (index + 1) * step
        overridden = result.review is ReviewMark.DISAGREE
        if overridden or index % 2:  # zebra stripes keep a row together across the page
            figure.add_artist(Rectangle((0.045, y - step / 2), 0.91, step, zorder=0,
                                        color=_OVERRIDDEN_SHADE if overridden else "#f0f0f0"))
        cells = _row_cells(result, first_rank + index, anonymise)
        for column, ((_header, x, _width), text) in enumerate(zip(_COLUMNS, cells,
                                                                  strict=True)):
            colour = verdict_colour(result) if column == 3 else (
                RED if column == 6 and overridden else "black")
            figure.text(x, y, text, fontsize=6.5, va="center", color=colour,
                        weight="bold" if column == 6 and overridden else "normal")
    figure.text(0.05, 0.055, f"{_OUTSIDE} outside the intended use: the patient is older than "
                "the paediatric range the model was made for.", fontsize=7, color="#444444")


def _note_lines(results: list[StoredResult]) -> list[tuple[str, bool]]:
    """(text, is_heading) lines: every reviewed or annotated film, in worklist order."""
    lines: list[tuple[str, bool]] = []
    for rank, result in enumerate(results, start=1):
        if not (result.review or result.note):
            continue
        review = review_words(result) or "not reviewed"
        lines.append((f"{rank}. {short(Path(result.path).name, 50)} — "
                      f"{verdict_words(result)} — {review}", True))
        for text in textwrap.wrap(result.note or "", 100):
            lines.append((text, False))
    return lines


def _notes_page(figure: Figure, lines: list[tuple[str, bool]], part: int, parts: int) -> None:
    figure.text(0.06, 0.95, "Reviews and notes" + (f" ({part}/{parts})" if parts > 1 else ""),
                fontsize=12, weight="bold")
    y = 0.92
    for text, heading in lines:
        overridden = heading and "OVERRIDDEN" in text
        figure.text(0.06 if heading else 0.09, y, text, fontsize=8, va="top",
                    weight="bold" if heading else "normal", color=RED if overridden else "black")
        y -= 0.0145


def _thumbnail(ax, result: StoredResult, classifier) -> None:
    name = short(Path(result.path).name, 34)
    try:
        # The classifier's input size is what the scan decoded at, so the map is its own.
        side = classifier.input_size if classifier is not None else _THUMB_PIXELS
        loaded = load_image(result.path, min_side=side)
    except (ImageLoadError, MemoryError) as error:  # moved or deleted since the scan
        reason = getattr(error, "reason", Reason.OUT_OF_MEMORY)
        ax.set_facecolor("#eeeeee")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}\nunreadable: {reason}", fontsize=7, color="#7a4f00")
        return
    overlay = None
    if classifier is not None:
        model_input = classifier.prepare(loaded)
        cam = call_model(classifier, gradcam, model_input)  # on the model's thread, if it has one
        # Scaled by the verdict the scan gave, as the viewer does; full strength for a row
        # scanned before thresholds were stored.
        strength = (1.0 if result.threshold is None
                    else evidence_strength(result.probability, result.threshold))
        overlay = gradcam_rgba(cam, strength)
    show_film(ax, shrink(loaded.pixels, _THUMB_PIXELS), overlay)
    review = review_words(result)
    ax.set_title(f"{name}\nP(pneumonia) = {result.probability:.3f}"
                 + (f" · {review}" if review else ""), fontsize=7,
                 color=RED if result.review is ReviewMark.DISAGREE else "black")


def _thumbnail_page(figure: Figure, band: Band, rows: list, first: int, shown: int, count: int,
                    classifier) -> None:
    last = first + len(rows) - 1
    which = "nearest the threshold" if band is Band.UNLIKELY else "most suspicious"
    figure.text(0.06, 0.955, f"{band.wording}: the {shown} {which} of {count} — {first}–{last}",
                fontsize=12, weight="bold", color=BAND_COLOURS[band])
    note = GRADCAM_NOTE if classifier is not None else "No model given: no Grad-CAM overlay."
    figure.text(0.06, 0.943, textwrap.fill(note, 140), fontsize=7.5, color="#444444", va="top")
    axes = figure.subplots(*GRID, squeeze=False).ravel()
    figure.subplots_adjust(left=0.05, right=0.95, top=0.885, bottom=0.07, hspace=0.3,
                           wspace=0.1)
    for ax, result in zip(axes, rows, strict=False):
        _thumbnail(ax, result, classifier)
    for ax in axes[len(rows):]:
        ax.set_axis_off()


def _pages(scan, results: list, classifier, tops, anonymise: bool
           ) -> list[Callable[[Figure], None]]:
    pages: list[Callable[[Figure], None]] = [
        lambda f: _summary_page(f, scan, results, tops, classifier is not None, anonymise)
    ]
    for start in range(0, len(results), ROWS_PER_PAGE):
        rows = results[start : start + ROWS_PER_PAGE]
        pages.append(lambda f, rows=rows, start=start: _table_page(f, rows, start + 1,
                                                                   len(results), anonymise))
    notes = _note_lines(results)
    parts = -(-len(notes) // NOTE_LINES_PER_PAGE)
    for part in range(parts):
        chunk = notes[part * NOTE_LINES_PER_PAGE : (part + 1) * NOTE_LINES_PER_PAGE]
        pages.append(lambda f, chunk=chunk, part=part: _notes_page(f, chunk, part + 1, parts))
    per_grid = GRID[0] * GRID[1]
    for band, films, count in tops:
        for start in range(0, len(films), per_grid):
            rows = films[start : start + per_grid]
            pages.append(lambda f, band=band, rows=rows, start=start, films=films, count=count:
                         _thumbnail_page(f, band, rows, start + 1, len(films), count,
                                         classifier))
    return pages


def write_scan_report(path: Path | str, scan, results: list, classifier=None, *,
                      thumbnails_per_band: int = THUMBNAILS_PER_BAND, anonymise: bool = False,
                      progress: Progress | None = None) -> Path:
    """Summary page, worklist table pages in the order given, reviews and notes, then the top
    ``thumbnails_per_band`` films of each band (with Grad-CAM when ``classifier`` is given).
    ``progress(page, pages)`` is called after each page. Raises OSError if ``path`` can't be
    written."""
    path, results = Path(path), list(results)
    tops = band_tops(results, thumbnails_per_band)
    # Every page is known before the first is drawn, so each footer can say "page n/N".
    pages = _pages(scan, results, classifier, tops, anonymise)
    with atomic_pdf(path, f"Pneumonia screening: scan #{scan.id}") as pdf:
        for number, draw in enumerate(pages, start=1):
            figure = page(number, len(pages))
            draw(figure)
            pdf.savefig(figure)
            if progress is not None:
                progress(number, len(pages))
    log.info("wrote scan report %s (scan #%s, %d rows, %d films shown%s)", path, scan.id,
             len(results), sum(len(films) for _band, films, _count in tops),
             ", anonymised" if anonymise else "")
    return path
