"""PDF reports: a scan's worklist to file or hand over, and one film's verdict with Grad-CAM.

Figures are plain :class:`matplotlib.figure.Figure` objects saved through ``PdfPages``: never
pyplot, whose global figure manager and backend the running GUI may share. Like the CSV, a PDF
is written to a temp file beside the target and renamed into place, so the target is either
the previous file or a complete new one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from .explain import gradcam
from .imaging import ImageLoadError, LoadedImage, load_image
from .inference import call_model
from .results import Reason, ReviewMark, Status, StoredResult, Verdict

INTENDED_USE_LINE = (
    "Decision support for a radiologist; not a diagnosis. "
    "Every film must be read by the radiologist."
)
A4 = (8.27, 11.69)  # inches, portrait
ROWS_PER_PAGE = 35
GRID = (4, 3)  # thumbnail rows x columns per page
DPI = 150  # images are rasterised at this resolution inside the PDF
_COLOURS = {Verdict.PNEUMONIA: "#b3261e", Verdict.NORMAL: "#1e7d32"}  # the viewer's colours
_THUMB_PIXELS = 384  # longest side of an embedded thumbnail: 24 films stay a few MB
_FILM_PIXELS = 1200  # longest side of the case report's film (~300 dpi at its printed size)
_GRADCAM_NOTE = (
    "Grad-CAM overlay (red/yellow): the regions that raised the model's P(pneumonia). "
    "It shows where the model looked, not where a lesion is."
)
Progress = Callable[[int, int], None]

log = logging.getLogger(__name__)


@contextmanager
def _atomic_pdf(path: Path, title: str) -> Iterator[PdfPages]:
    """Pages go to a temp file in the target's folder (so ``os.replace`` is a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    metadata = {"Title": title, "Subject": INTENDED_USE_LINE, "Creator": "pneumo_desktop"}
    try:
        with os.fdopen(fd, "wb") as handle:
            with PdfPages(handle, metadata=metadata) as pdf:
                yield pdf
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, path)
        except OSError as error:  # name the target, not our temp file, to the user
            raise OSError(error.errno, f"{error.strerror}: {path}") from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _page(number: int, total: int) -> Figure:
    """A blank A4 page with the footer every page carries."""
    figure = Figure(figsize=A4, dpi=DPI)
    figure.text(0.06, 0.025, INTENDED_USE_LINE, fontsize=7, color="#444444")
    figure.text(0.94, 0.025, f"page {number}/{total}", fontsize=7, ha="right", color="#444444")
    return figure


def _callout(figure: Figure, y: float) -> None:
    """The intended-use line, boxed in the verdict red where it can't be missed."""
    red = _COLOURS[Verdict.PNEUMONIA]
    figure.text(0.5, y, textwrap.fill(INTENDED_USE_LINE, 60), fontsize=12, weight="bold",
                ha="center", va="center", color=red,
                bbox={"boxstyle": "round,pad=0.6", "facecolor": "#fff4f3", "edgecolor": red})


def _short(name: str, limit: int) -> str:
    """Cut the middle, not the end: the start and the extension both tell films apart."""
    if len(name) <= limit:
        return name
    tail = max(limit // 3, 1)
    return name[: limit - tail - 1] + "…" + name[-tail:]


def _local_time(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _shrink(pixels: np.ndarray, longest: int) -> np.ndarray:
    height, width = pixels.shape
    scale = longest / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def _show_film(ax, pixels: np.ndarray, cam: np.ndarray | None = None) -> None:
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
    if cam is not None:
        # The model saw the film squashed to a square: stretch the map back over the film.
        height, width = pixels.shape
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        ax.imshow(cam, cmap="jet", alpha=0.4, vmin=0.0, vmax=1.0, extent=extent)
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------------------- scan report


def _status_text(result: StoredResult) -> str:
    if result.status is Status.OK:
        return str(Status.OK)
    if result.status is Status.NOT_XRAY:
        return "not an X-ray"
    return f"{Status.ERROR}: {result.reason or Reason.UNREADABLE}"


def _review_text(result: StoredResult) -> str:
    if result.review is ReviewMark.DISAGREE:
        return f"{ReviewMark.DISAGREE} → {result.corrected_label or '?'}"
    return result.review or ""


def _summary_page(figure: Figure, scan, results: list[StoredResult], flagged: int, shown: int,
                  with_cam: bool) -> None:
    ok = [r for r in results if r.status is Status.OK]
    reviews = [r.review for r in results]
    total = "?" if scan.total_files is None else scan.total_files
    threshold = "—" if scan.threshold is None else f"{scan.threshold:.4f}"
    lines = [
        ("Scan", f"#{scan.id} ({scan.state})"),
        ("Folder", "\n".join(textwrap.wrap(scan.folder, 70)) or "—"),
        ("Started", _local_time(scan.started)),
        ("Finished", _local_time(scan.finished)),
        ("Model", f"{scan.model_name or '?'} {scan.model_version or ''}".strip()),
        ("Threshold", threshold),
        ("Report written", dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")),
        ("", ""),
        ("Files with a result", f"{len(results)} of {total}"),
        (f"{Verdict.PNEUMONIA} (flagged)", str(sum(r.verdict is Verdict.PNEUMONIA for r in ok))),
        (str(Verdict.NORMAL), str(sum(r.verdict is Verdict.NORMAL for r in ok))),
        ("Not an X-ray", str(sum(r.status is Status.NOT_XRAY for r in results))),
        ("Could not be read", str(sum(r.status is Status.ERROR for r in results))),
        ("Reviewed", f"{sum(v is not None for v in reviews)} (agreed "
                     f"{reviews.count(ReviewMark.AGREE)}, disagreed "
                     f"{reviews.count(ReviewMark.DISAGREE)})"),
    ]
    figure.text(0.06, 0.93, "Pneumonia screening — scan report", fontsize=18, weight="bold")
    y = 0.87
    for label, value in lines:
        figure.text(0.06, y, label, fontsize=10, color="#444444", va="top")
        figure.text(0.32, y, value, fontsize=10, va="top")
        y -= 0.028 * (value.count("\n") + 1)
    notes = ["The worklist follows, most suspicious first."]
    if shown:
        notes.append(f"Then the {shown} most suspicious of {flagged} flagged films"
                     + (" with a Grad-CAM overlay." if with_cam else " (no model: no overlay)."))
        if with_cam:
            notes.append(_GRADCAM_NOTE)
    figure.text(0.06, y - 0.02, "\n".join(textwrap.fill(n, 95) for n in notes), fontsize=9,
                va="top")
    _callout(figure, 0.12)


_COLUMNS = (  # header, x position (figure fraction)
    ("#", 0.06), ("File", 0.10), ("P(pneu.)", 0.46), ("Verdict", 0.54), ("Subtype", 0.645),
    ("Status", 0.72), ("Review", 0.845),
)


def _table_page(figure: Figure, rows: list, first_rank: int, count: int) -> None:
    last = first_rank + len(rows) - 1
    figure.text(0.06, 0.95, f"Worklist, most suspicious first — rows {first_rank}–{last} of "
                f"{count}", fontsize=12, weight="bold")
    top, step = 0.915, 0.024
    for header, x in _COLUMNS:
        figure.text(x, top, header, fontsize=8, weight="bold", va="center")
    figure.add_artist(Rectangle((0.05, top - step / 2), 0.9, 0.0007, color="black"))
    for index, result in enumerate(rows):
        y = top - (index + 1) * step
        if index % 2:  # zebra stripes keep a row together across the wide page
            figure.add_artist(Rectangle((0.05, y - step / 2), 0.9, step, color="#f0f0f0",
                                        zorder=0))
        probability = "" if result.probability is None else f"{result.probability:.3f}"
        cells = (str(first_rank + index), _short(Path(result.path).name, 44), probability,
                 result.verdict or "—", result.subtype or "", _short(_status_text(result), 22),
                 _review_text(result))
        for (_header, x), text in zip(_COLUMNS, cells, strict=True):
            colour = _COLOURS.get(text, "black")
            figure.text(x, y, text, fontsize=7.5, va="center", color=colour)


def _thumbnail(ax, result, classifier) -> None:
    name = _short(Path(result.path).name, 34)
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
    cam = None
    if classifier is not None:
        model_input = classifier.prepare(loaded)
        cam = call_model(classifier, gradcam, model_input)  # on the model's thread, if it has one
    _show_film(ax, _shrink(loaded.pixels, _THUMB_PIXELS), cam)
    ax.set_title(f"{name}\nP(pneumonia) = {result.probability:.3f}", fontsize=7)


def _thumbnail_page(figure: Figure, rows: list, first: int, shown: int, classifier) -> None:
    last = first + len(rows) - 1
    figure.text(0.06, 0.955, f"Flagged films (PNEUMONIA), most suspicious first — {first}–{last}"
                f" of {shown}", fontsize=12, weight="bold")
    note = _GRADCAM_NOTE if classifier is not None else "No model given: no Grad-CAM overlay."
    figure.text(0.06, 0.935, note, fontsize=7.5, color="#444444")
    axes = figure.subplots(*GRID, squeeze=False).ravel()
    figure.subplots_adjust(left=0.05, right=0.95, top=0.9, bottom=0.07, hspace=0.3, wspace=0.1)
    for ax, result in zip(axes, rows, strict=False):
        _thumbnail(ax, result, classifier)
    for ax in axes[len(rows):]:
        ax.set_axis_off()


def write_scan_report(path: Path | str, scan, results: list, classifier=None, *,
                      max_flagged_thumbnails: int = 24, progress: Progress | None = None,
                      ) -> Path:
    """Summary page, worklist table pages in the order given, then thumbnails of the most
    suspicious PNEUMONIA films (with Grad-CAM when ``classifier`` is given). ``progress(page,
    pages)`` is called after each page. Raises OSError if ``path`` can't be written."""
    path, results = Path(path), list(results)
    flagged = sorted(
        (r for r in results if r.status is Status.OK and r.verdict is Verdict.PNEUMONIA),
        key=lambda r: -(r.probability or 0.0),
    )
    thumbnails = flagged[: max(0, max_flagged_thumbnails)]
    per_grid = GRID[0] * GRID[1]
    # Every page is known before the first is drawn, so each footer can say "page n/N".
    pages: list[Callable[[Figure], None]] = [
        lambda f: _summary_page(f, scan, results, len(flagged), len(thumbnails),
                                classifier is not None)
    ]
    for start in range(0, len(results), ROWS_PER_PAGE):
        rows = results[start : start + ROWS_PER_PAGE]
        pages.append(lambda f, rows=rows, start=start: _table_page(f, rows, start + 1,
                                                                   len(results)))
    for start in range(0, len(thumbnails), per_grid):
        rows = thumbnails[start : start + per_grid]
        pages.append(lambda f, rows=rows, start=start: _thumbnail_page(
            f, rows, start + 1, len(thumbnails), classifier))
    with _atomic_pdf(path, f"Pneumonia screening: scan #{scan.id}") as pdf:
        for number, draw in enumerate(pages, start=1):
            figure = _page(number, len(pages))
            draw(figure)
            pdf.savefig(figure)
            if progress is not None:
                progress(number, len(pages))
    log.info("wrote scan report %s (scan #%s, %d rows, %d flagged films shown)", path, scan.id,
             len(results), len(thumbnails))
    return path


# ---------------------------------------------------------------------------- case report


def _tag_lines(tags: dict[str, str]) -> list[str]:
    """DICOM patient and study tags, as the viewer shows them."""
    patient = [tags.get("PatientName", "").replace("^", " ").strip()]
    if "PatientID" in tags:
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


def write_case_report(path: Path | str, image_path: Path | str, classifier, *,
                      loaded: LoadedImage | None = None, model_input: np.ndarray | None = None,
                      ) -> Path:
    """One page for one film: the film and its Grad-CAM side by side, the verdict and the
    model. ``loaded``/``model_input`` spare a second decode when the caller has them. Raises
    ImageLoadError if the film can't be read, OSError if ``path`` can't be written."""
    path = Path(path)
    loaded = load_image(image_path) if loaded is None else loaded
    if model_input is None:
        model_input = classifier.prepare(loaded)
    prediction = classifier.classify(model_input)
    cam = call_model(classifier, gradcam, model_input)  # on the model's thread, if it has one
    figure = _page(1, 1)
    figure.text(0.06, 0.95, "Pneumonia screening — case report", fontsize=18, weight="bold")
    film = _shrink(loaded.pixels, _FILM_PIXELS)
    for box, cam_map, title in (([0.05, 0.5, 0.44, 0.42], None, "Film"),
                                ([0.51, 0.5, 0.44, 0.42], cam, "Grad-CAM overlay")):
        ax = figure.add_axes(box)
        _show_film(ax, film, cam_map)
        ax.set_title(title, fontsize=10)
    verdict = prediction.verdict or "NOT AN X-RAY"
    colour = _COLOURS.get(verdict, "#555555")
    figure.text(0.06, 0.44, verdict, fontsize=24, weight="bold", color="white",
                va="center", bbox={"boxstyle": "round,pad=0.3", "facecolor": colour,
                                   "edgecolor": colour})
    card = classifier.card
    width, height = loaded.original_size
    lines = [
        prediction.probability_text,
        f"Model: {card.name} {card.version}",
        f"File: {_short(Path(image_path).name, 80)} ({width} × {height} px, {loaded.format})",
        *_tag_lines(loaded.metadata),
        f"Report written: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M}",
    ]
    figure.text(0.06, 0.40, "\n".join(lines), fontsize=10, va="top", linespacing=1.6)
    figure.text(0.06, 0.2, textwrap.fill(_GRADCAM_NOTE, 100), fontsize=8, color="#444444",
                va="top")
    _callout(figure, 0.1)
    with _atomic_pdf(path, f"Pneumonia screening: {Path(image_path).name}") as pdf:
        pdf.savefig(figure)
    log.info("wrote case report %s (%s)", path, Path(image_path).name)
    return path
