"""What the scan and case PDFs share: the atomic file, the A4 page with its footer, the
intended-use callout, film drawing and the words of a verdict, a review and a patient.

Figures are plain :class:`matplotlib.figure.Figure` objects saved through ``PdfPages``: never
pyplot, whose global figure manager and backend the running GUI may share. Like the CSV, a PDF
is written to a temp file beside the target and renamed into place, so the target is either
the previous file or a complete new one.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from PIL import Image

from .results import Band, ReviewMark, Status, StoredResult, Verdict

INTENDED_USE_LINE = (
    "Decision support for a radiologist; not a diagnosis. "
    "Every film must be read by the radiologist."
)
A4 = (8.27, 11.69)  # inches, portrait
DPI = 150  # images are rasterised at this resolution inside the PDF
RED = "#b3261e"
# The viewer's and the worklist's colours: a possible film is amber, not the red of a likely one.
BAND_COLOURS = {Band.LIKELY: RED, Band.POSSIBLE: "#a35c00", Band.UNLIKELY: "#1e7d32"}
VERDICT_COLOURS = {Verdict.PNEUMONIA: RED, Verdict.NORMAL: "#1e7d32"}  # rows without a band
GRADCAM_NOTE = (
    "Grad-CAM overlay, in the viewer's colours: warm (yellow → red) marks the regions that "
    "raised the model's P(pneumonia), drawn fainter the more clearly the model calls the film "
    "normal. It shows where the model looked, not where a lesion is."
)
ANONYMISED_NOTE = ("Anonymised: patient names, IDs and study UIDs are left out; file names "
                   "and notes are as written.")


@contextmanager
def atomic_pdf(path: Path, title: str) -> Iterator[PdfPages]:
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


def page(number: int | None = None, total: int | None = None) -> Figure:
    """A blank A4 page with the footer every page carries; numbered now when ``number`` and
    ``total`` are given, else later by :func:`number_page` (when the count is known)."""
    figure = Figure(figsize=A4, dpi=DPI)
    figure.text(0.06, 0.025, INTENDED_USE_LINE, fontsize=7, color="#444444")
    if number is not None and total is not None:
        number_page(figure, number, total)
    return figure


def number_page(figure: Figure, number: int, total: int) -> None:
    figure.text(0.94, 0.025, f"page {number}/{total}", fontsize=7, ha="right", color="#444444")


def callout(figure: Figure, y: float) -> None:
    """The intended-use line, boxed in red where it can't be missed."""
    figure.text(0.5, y, textwrap.fill(INTENDED_USE_LINE, 60), fontsize=12, weight="bold",
                ha="center", va="center", color=RED,
                bbox={"boxstyle": "round,pad=0.6", "facecolor": "#fff4f3", "edgecolor": RED})


def short(name: str, limit: int) -> str:
    """Cut the middle, not the end: the start and the extension both tell films apart."""
    if len(name) <= limit:
        return name
    tail = max(limit // 3, 1)
    return name[: limit - tail - 1] + "…" + name[-tail:]


def local_time(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def now_text() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def shrink(pixels: np.ndarray, longest: int) -> np.ndarray:
    height, width = pixels.shape
    scale = longest / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def show_film(ax, pixels: np.ndarray, overlay: np.ndarray | None = None) -> None:
    """The film in grey, with ``overlay`` (RGBA from :func:`~.overlays.gradcam_rgba`, the
    viewer's colour language and scaling) over it."""
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
    if overlay is not None:
        # The model saw the film squashed to a square: stretch the map back over the film.
        height, width = pixels.shape
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        ax.imshow(overlay, extent=extent, interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])


def verdict_words(result: StoredResult) -> str:
    """The band's words (the verdict for rows scanned before bands), or why there is none."""
    if result.status is Status.NOT_XRAY:
        return "not an X-ray"
    if result.status is not Status.OK:
        return f"{Status.ERROR}: {result.reason or 'unreadable'}"
    return result.band.wording if result.band else str(result.verdict or "—")


def verdict_colour(result: StoredResult) -> str:
    if result.status is not Status.OK:
        return "#7a4f00"
    return BAND_COLOURS.get(result.band) or VERDICT_COLOURS.get(result.verdict, "black")


def threshold_words(threshold: float | None, source: str | None) -> str:
    """``0.0426 factory``; "" without a threshold."""
    return "" if threshold is None else f"{threshold:.4f} {source or ''}".strip()


def review_words(result: StoredResult) -> str:
    """``agreed``, ``OVERRIDDEN → NORMAL`` (the reader disagreed) or ""."""
    if result.review is ReviewMark.DISAGREE:
        return f"OVERRIDDEN → {result.corrected_label or '?'}"
    return "agreed" if result.review is ReviewMark.AGREE else ""
