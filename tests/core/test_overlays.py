"""The pure renderers of explanations: Grad-CAM and LIME as RGBA overlays, feature-map grids."""

from __future__ import annotations

import numpy as np

from pneumo_desktop.core.explain import LimeResult
from pneumo_desktop.core.overlays import (
    AGAINST_PNEUMONIA,
    FOR_PNEUMONIA,
    feature_grid,
    gradcam_rgba,
    lime_overlays,
)


def test_gradcam_colouring_is_transparent_where_cold() -> None:
    cam = np.linspace(0, 1, 224 * 224).reshape(224, 224)
    rgba = gradcam_rgba(cam)
    assert rgba.dtype == np.uint8 and rgba.shape == (224, 224, 4)
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 255
    assert rgba[-1, -1, 0] > rgba[-1, -1, 2]  # the hot end is red
    assert gradcam_rgba(np.full((4, 4), np.nan))[..., 3].max() == 0  # NaN counts as cold


def _quadrants() -> LimeResult:
    """Four 8x8 superpixels: 0 pushes towards pneumonia, 3 against, 1 and 2 barely matter."""
    segments = np.zeros((16, 16), int)
    segments[:8, 8:], segments[8:, :8], segments[8:, 8:] = 1, 2, 3
    weights = {0: 0.8, 1: 0.01, 2: -0.02, 3: -0.4}
    return LimeResult(segments, weights, top_segments=[0, 3], probability=0.9, score=0.5)


def test_lime_overlays_colour_regions_for_and_against_pneumonia() -> None:
    overlays = lime_overlays(_quadrants())
    boundaries, heatmap = overlays.boundaries, overlays.heatmap
    assert boundaries.shape == heatmap.shape == (16, 16, 4)
    # Outlines run along the edges between regions, inside the outlined one.
    assert tuple(boundaries[7, 3]) == (*FOR_PNEUMONIA, 255)  # segment 0's edge
    assert tuple(boundaries[3, 3]) == (*FOR_PNEUMONIA, 50)  # its faint fill
    assert tuple(boundaries[8, 12]) == (*AGAINST_PNEUMONIA, 255)  # segment 3's edge
    assert boundaries[4, 12, 3] == 0 and boundaries[12, 4, 3] == 0  # not in the top two
    assert heatmap[4, 4, 3] == 255 and heatmap[4, 4, 0] > heatmap[4, 4, 2]  # red, for
    assert heatmap[12, 12, 2] > heatmap[12, 12, 0] and heatmap[12, 12, 3] == 128  # blue, half
    assert heatmap[4, 12, 3] < 5  # a weight near zero is nearly transparent


def test_feature_grid_layout_and_normalisation() -> None:
    maps = np.random.default_rng(0).normal(size=(5, 4, 10)).astype(np.float32)
    maps[..., 9] = 7.0  # a dead channel must not divide by zero
    grid = feature_grid(maps)
    assert grid.shape == (3 * 5 + 2 * 2, 4 * 4 + 3 * 2)  # 10 tiles -> 4 columns, 3 rows
    assert grid[:5, :4].min() == 0 and grid[:5, :4].max() == 255
    assert feature_grid(maps, 2).shape == (5, 4)
    assert feature_grid(np.ones((3, 3, 100)), -1).shape == (8 * 5 - 2, 8 * 5 - 2)  # 64 tiles max
