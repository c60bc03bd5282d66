"""Acquisition stress test: the validation films, as other machines would have taken them.

Validation is drawn from the same clinic, machines and export settings as training, so it cannot
show a network leaning on how a film was *acquired* instead of on the lungs. In the training set
such cues exist: the full-resolution originals of normal and pneumonia films differ in size
(median 1684x1399 vs 1234x848 px) and so in aspect ratio once squashed to 224x224, and a single
global sharpness statistic separates the two classes with ROC AUC 0.87. This module re-renders
each validation film with one such change (blur, lower resolution, sharpening, a different
aspect ratio or framing, JPEG quality) and reports, at the card's threshold, how many normals
get flagged and how many pneumonias still get caught. A model that reads the lungs barely moves;
one that reads the acquisition swings. It uses training data only; test films are never touched.

Exposure curves (gamma) are not among the shifts: the histogram equalisation in front of the
model maps any monotone curve of a film to the same pixels, so they cannot move the output.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import data
from .config import INPUT_SIZE

Shift = Callable[["Image.Image"], "Image.Image"]  # noqa: F821 - PIL is imported lazily


def _crop_resize(image, keep_width: float, keep_height: float):
    from PIL import Image

    width, height = image.size
    crop_w, crop_h = round(width * keep_width), round(height * keep_height)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.resize((width, height), Image.Resampling.BILINEAR, box=box)


def _jpeg(image, quality: int):
    from PIL import Image

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def acquisition_shifts() -> dict[str, Shift]:
    """Name -> a change applied to the 224x224 grey film before equalisation."""
    from PIL import Image, ImageFilter

    half = INPUT_SIZE // 2
    return {
        "unchanged": lambda image: image,
        "blur (Gaussian, 1 px)": lambda image: image.filter(ImageFilter.GaussianBlur(1.0)),
        "half resolution": lambda image: image.resize((half, half), Image.Resampling.BILINEAR)
        .resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR),
        "sharpened (unsharp mask)": lambda image: image.filter(
            ImageFilter.UnsharpMask(radius=2, percent=120, threshold=0)
        ),
        # Cropping rows and stretching back squeezes the chest sideways, as squashing a wider
        # original does (pneumonia originals: median aspect 1.47 vs 1.20 for normals).
        "narrower chest (aspect x0.82)": lambda image: _crop_resize(image, 1.0, 0.82),
        "wider chest (aspect x1.22)": lambda image: _crop_resize(image, 0.82, 1.0),
        # Same aspect, tighter framing: tells the aspect effect from the framing effect.
        "zoomed in (x1.22 both ways)": lambda image: _crop_resize(image, 0.82, 0.82),
        "JPEG quality 30": lambda image: _jpeg(image, 30),
    }


def stress_report(model, records: list[data.Record], threshold: float, batch_size: int = 64):
    """Per shift: fraction of normals flagged and of pneumonias caught at ``threshold``."""
    labels = np.array([record.label for record in records])
    report = {}
    for name, shift in acquisition_shifts().items():
        films = np.stack([data.pillow_equalized(record.path, shift) for record in records])
        probabilities = np.asarray(model.predict(films, batch_size=batch_size, verbose=0))
        flagged = probabilities.reshape(-1) >= threshold
        report[name] = {
            "normals_flagged": float(flagged[labels == 0].mean()),
            "pneumonia_caught": float(flagged[labels == 1].mean()),
            "median_p_normal": float(np.median(probabilities.reshape(-1)[labels == 0])),
        }
    return report


def run_stress(model_file: Path, data_dir: Path, limit_per_class: int | None = None) -> dict:
    """Re-create the card's validation split and stress the model on it."""
    from .models import load_model

    card = json.loads(model_file.with_name(model_file.stem + ".card.json").read_text("utf-8"))
    if card["input"].get("equalize") != "histogram":
        raise ValueError("the stress test renders films the equalising way; this model's card "
                         "says it takes raw pixels")
    split = card["data"]
    records = data.list_split(Path(data_dir) / "train", limit_per_class)
    _, validation = data.split_validation(
        records, split["validation_fraction"], split["split_seed"], by=split["split"]
    )
    model = load_model(model_file)
    threshold = float(card["threshold"]["value"])
    return {
        "model": card["name"],
        "version": card["version"],
        "threshold": threshold,
        "validation_images": len(validation),
        "shifts": stress_report(model, validation, threshold),
    }


def stress_specificity(shifts: dict) -> float:
    """One number for a report: the specificity averaged over every row, unchanged included
    (1.0 = no normal flagged under any change)."""
    return float(np.mean([1.0 - row["normals_flagged"] for row in shifts.values()]))


def format_report(report: dict) -> str:
    lines = [
        f"{report['model']} {report['version']} at threshold {report['threshold']:.4f} "
        f"on {report['validation_images']} validation films",
        f"{'shift':32s} {'normals flagged':>16s} {'pneumonia caught':>17s} "
        f"{'median P(normal)':>17s}",
    ]
    for name, row in report["shifts"].items():
        lines.append(
            f"{name:32s} {row['normals_flagged']:16.3f} {row['pneumonia_caught']:17.3f} "
            f"{row['median_p_normal']:17.4f}"
        )
    lines.append(f"stress specificity (mean over rows): {stress_specificity(report['shifts']):.3f}")
    return "\n".join(lines)
