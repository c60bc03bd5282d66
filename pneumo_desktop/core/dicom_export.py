"""DICOM results for a film the classifier read: Grad-CAM over the film, then the Secondary
Capture and Structured Report of :mod:`.dicom_results` (which knows nothing of the model).

One call for the command line (``pneumo-scan --dicom-out``) and the app's per-case button.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .dicom_results import DicomResultError, DicomResultFiles, Review, write_dicom_results
from .identity import ModelIdentity, sop_instance_uid
from .imaging import load_image
from .overlays import evidence_strength, warm_colours
from .results import Prediction, ScanResult, Status

MAX_SIDE = 2048  # pixels: a result image needs no more, and a 3000 px RGB film is 27 MB
OVERLAY_OPACITY = 0.5


def overlay_picture(film: np.ndarray, heatmap: np.ndarray,
                    opacity: float = OVERLAY_OPACITY, strength: float = 1.0) -> np.ndarray:
    """The grey ``film`` (H x W uint8) in RGB with ``heatmap`` (0..1, any size) scaled by
    ``strength`` blended over it in the warm colours the viewer uses (see :mod:`.overlays`),
    each pixel as opaque as it is hot."""
    height, width = film.shape
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32)), 0.0, 1.0)
    heat = np.asarray(Image.fromarray(heat).resize((width, height), Image.Resampling.BILINEAR))
    heat = heat * float(np.clip(strength, 0.0, 1.0))
    colours = warm_colours(heat).astype(np.float32)
    alpha = (opacity * np.clip(heat, 0.0, 1.0))[..., None]
    grey = np.repeat(film[..., None].astype(np.float32), 3, axis=2)
    return np.clip(np.rint(grey * (1 - alpha) + colours * alpha), 0, 255).astype(np.uint8)


def export_film_results(
    path: Path,
    prediction: Prediction,
    classifier,
    out_dir: Path,
    *,
    scanned_folder: Path | None = None,
    review: Review | None = None,
) -> DicomResultFiles:
    """Grad-CAM of the DICOM film at ``path`` and its SC + SR in ``out_dir``."""
    from .explain import gradcam  # the model's runtime: only when results are asked for
    from .inference import call_model

    loaded = load_image(path)
    # On the inference thread when the app hands a SerialClassifier (the engine is not to be
    # run from a worker thread); in place for the command line.
    cam = call_model(classifier, gradcam, classifier.prepare(loaded))
    film = loaded.pixels
    if max(film.shape) > MAX_SIDE:
        scale = MAX_SIDE / max(film.shape)
        size = (round(film.shape[1] * scale), round(film.shape[0] * scale))
        film = np.asarray(Image.fromarray(film).resize(size, Image.Resampling.LANCZOS))
    return write_dicom_results(
        path, prediction, ModelIdentity.from_card(classifier.card),
        overlay_picture(film, cam, strength=evidence_strength(prediction.probability,
                                                              prediction.threshold)),
        out_dir, review=review, scanned_folder=scanned_folder,
    )


def prediction_of(result: ScanResult) -> Prediction:
    """The prediction behind a classified scan result (the store keeps all of its fields)."""
    if result.status is not Status.OK or result.verdict is None:
        raise DicomResultError("the film has no verdict, so there is no result to write")
    if result.threshold is None or result.threshold_source is None or result.band is None:
        raise DicomResultError("the result does not say which threshold made it (an older "
                               "version scanned it): scan the film again")
    return Prediction(
        Status.OK, result.probability, result.threshold, result.threshold_source,
        result.verdict, result.band, subtype=result.subtype,
        subtype_probability=result.subtype_probability,
    )


def export_scan_result(
    result: ScanResult,
    classifier,
    out_dir: Path,
    *,
    scanned_folder: Path | None = None,
    review: Review | None = None,
) -> DicomResultFiles | None:
    """:func:`export_film_results` for one result of a scan; None when the film is not DICOM
    or has no verdict (nothing to write: results go beside DICOM films only)."""
    if result.status is not Status.OK or sop_instance_uid(result.path) is None:
        return None
    return export_film_results(Path(result.path), prediction_of(result), classifier, out_dir,
                               scanned_folder=scanned_folder, review=review)
