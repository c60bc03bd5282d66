"""Pictures of explanations, as plain arrays: Grad-CAM and LIME as RGBA overlays at the model's
input size, and feature maps as one grey grid.

**One colour language** for every overlay: warm (yellow → red) is evidence *for* pneumonia,
cool (blue) evidence *against* it, transparent is neither. Grad-CAM shows only evidence for
(its map is rectified), LIME both ways, so on one film the two agree in colour.

**Grad-CAM is scaled by the verdict's strength**, not to its own peak alone: the map (0..1,
normalised to its peak by :func:`~.explain.gradcam`) is multiplied by
:func:`evidence_strength`, the sigmoid of how far the logit is above the operating
threshold's logit (0.5 at the threshold, towards 1 for a clear pneumonia, towards 0 for a
clear normal), and values under :data:`GRADCAM_FLOOR` are left transparent. A film the model
calls clearly normal (P = 0.012 at a 0.043 threshold: strength 0.21) therefore shows at most a
faint yellow where the model looked, never full red.

Pure numpy (matplotlib's colour maps, scikit-image's boundaries): no Qt and no model, so they
run on any thread and a widget only hands the arrays to its view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .explain import LimeResult

FOR_PNEUMONIA = (235, 80, 20)  # warm: LIME outlines of regions pushing towards PNEUMONIA
AGAINST_PNEUMONIA = (40, 130, 255)  # cool: regions pushing towards NORMAL
MAX_TILES = 64  # 8x8 feature-map tiles at most: more would be too small to read
GRADCAM_FLOOR = 0.1  # scaled Grad-CAM values below this are not drawn
_WARM = "YlOrRd"  # yellow (weak) -> orange -> red (strong) evidence for pneumonia
# The part of the map used: its palest quarter is too close to white to read over a film, and
# its darkest fifth is a burgundy that reads as dark, not hot, over a grey film.
_WARM_RANGE = (0.25, 0.8)


def evidence_strength(probability: float, threshold: float) -> float:
    """sigmoid(logit(P) - logit(threshold)): 0.5 at the operating threshold, near 1 for a
    clear pneumonia and near 0 for a clear normal (see the module docstring)."""
    eps = 1e-7
    p = min(max(float(probability), eps), 1 - eps)
    t = min(max(float(threshold), eps), 1 - eps)
    margin = math.log(p / (1 - p)) - math.log(t / (1 - t))
    return 1.0 / (1.0 + math.exp(-margin))


def warm_colours(values: np.ndarray) -> np.ndarray:
    """0..1 evidence for pneumonia -> ``(..., 3)`` uint8 RGB on the warm scale every overlay
    (viewer, DICOM result) uses."""
    from matplotlib import colormaps

    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    low, high = _WARM_RANGE
    return colormaps[_WARM](low + (high - low) * values, bytes=True)[..., :3]


def gradcam_rgba(cam: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """0..1 map, scaled by ``strength`` (:func:`evidence_strength`) -> warm RGBA with alpha =
    value, transparent under :data:`GRADCAM_FLOOR`, so cold areas let the film show through."""
    value = np.clip(np.nan_to_num(cam), 0.0, 1.0) * float(np.clip(strength, 0.0, 1.0))
    rgba = np.zeros((*value.shape, 4), dtype=np.uint8)
    rgba[..., :3] = warm_colours(value)
    rgba[..., 3] = np.where(value >= GRADCAM_FLOOR, np.rint(value * 255), 0).astype(np.uint8)
    return np.ascontiguousarray(rgba)


def lime_boundaries_rgba(result: LimeResult) -> np.ndarray:
    """Outlines (plus a faint fill) of the top superpixels: warm for, cool against pneumonia."""
    from skimage.segmentation import find_boundaries

    pneumonia, normal = result.masks()
    rgba = np.zeros((*result.segments.shape, 4), dtype=np.uint8)
    for mask, colour in ((pneumonia, FOR_PNEUMONIA), (normal, AGAINST_PNEUMONIA)):
        labels = np.where(mask, result.segments + 1, 0)  # +1: segment 0 is not background
        rgba[mask] = (*colour, 50)
        rgba[find_boundaries(labels, mode="inner")] = (*colour, 255)
    return rgba


def lime_heatmap_rgba(result: LimeResult) -> np.ndarray:
    """Diverging map of superpixel weights: warm for pneumonia, blue against, alpha = |weight|."""
    from matplotlib import colormaps

    heat = np.clip(result.heatmap(), -1.0, 1.0)
    rgba = colormaps["RdBu_r"]((heat + 1.0) / 2.0, bytes=True)
    rgba[..., 3] = np.rint(np.abs(heat) * 255).astype(np.uint8)
    return np.ascontiguousarray(rgba)


@dataclass(frozen=True)
class LimeOverlays:
    """One LIME explanation with its two pictures, ready for a view."""

    result: LimeResult
    boundaries: np.ndarray  # RGBA, see lime_boundaries_rgba
    heatmap: np.ndarray  # RGBA, see lime_heatmap_rgba


def lime_overlays(result: LimeResult) -> LimeOverlays:
    return LimeOverlays(result, lime_boundaries_rgba(result), lime_heatmap_rgba(result))


def _normalise(tile: np.ndarray) -> np.ndarray:
    low, high = float(tile.min()), float(tile.max())
    if high <= low:  # a dead channel: show it black rather than divide by zero
        return np.zeros(tile.shape, dtype=np.uint8)
    return np.rint((tile - low) * (255.0 / (high - low))).astype(np.uint8)


def feature_grid(maps: np.ndarray, channel: int = -1, gap: int = 2) -> np.ndarray:
    """``(h, w, c)`` activations -> one uint8 image: channel ``channel``, or (``-1``) a grid of
    the first 64 channels, each min-max normalised, separated by ``gap`` grey pixels."""
    if channel >= 0:
        return _normalise(maps[..., channel])
    height, width, count = maps.shape
    count = min(count, MAX_TILES)
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap), 64, np.uint8)
    for index in range(count):
        top, left = (index // cols) * (height + gap), (index % cols) * (width + gap)
        grid[top : top + height, left : left + width] = _normalise(maps[..., index])
    return grid
