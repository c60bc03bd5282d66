"""Pictures of explanations, as plain arrays: Grad-CAM and LIME as RGBA overlays at the model's
input size, and feature maps as one grey grid.

Pure numpy (matplotlib's colour maps, scikit-image's boundaries): no Qt and no model, so they
run on any thread and a widget only hands the arrays to its view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .explain import LimeResult

FOR_PNEUMONIA = (0, 220, 0)  # LIME outlines: green for regions pushing towards PNEUMONIA
AGAINST_PNEUMONIA = (230, 30, 30)  # red for regions pushing towards NORMAL
MAX_TILES = 64  # 8x8 feature-map tiles at most: more would be too small to read


def gradcam_rgba(cam: np.ndarray) -> np.ndarray:
    """0..1 map -> jet RGBA with alpha = value, so cold areas let the film show through."""
    from matplotlib import colormaps

    cam = np.clip(np.nan_to_num(cam), 0.0, 1.0)
    rgba = colormaps["jet"](cam, bytes=True)
    rgba[..., 3] = np.rint(cam * 255).astype(np.uint8)
    return np.ascontiguousarray(rgba)


def lime_boundaries_rgba(result: LimeResult) -> np.ndarray:
    """Outlines (plus a faint fill) of the top superpixels: green for, red against pneumonia."""
    from skimage.segmentation import find_boundaries

    pneumonia, normal = result.masks()
    rgba = np.zeros((*result.segments.shape, 4), dtype=np.uint8)
    for mask, colour in ((pneumonia, FOR_PNEUMONIA), (normal, AGAINST_PNEUMONIA)):
        labels = np.where(mask, result.segments + 1, 0)  # +1: segment 0 is not background
        rgba[mask] = (*colour, 50)
        rgba[find_boundaries(labels, mode="inner")] = (*colour, 255)
    return rgba


def lime_heatmap_rgba(result: LimeResult) -> np.ndarray:
    """Diverging map of superpixel weights: red for pneumonia, blue against, alpha = |weight|."""
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
