"""ExplainPanel over the real tiny classifier: Grad-CAM, LIME (run, cancel, close), the model's
input and feature maps. LIME runs with few samples to keep the suite quick."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core import explain
from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.ui.explain_panel import ExplainPanel
from pneumo_desktop.ui.image_view import ImageView
from tests.conftest import synthetic_xray

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU


def film(tmp_path, name: str, pneumonia: bool, seed: int = 0):
    """A 300x500 (non-square) film written to disk and loaded the way the viewer loads it."""
    pixels = synthetic_xray(np.random.default_rng(seed), pneumonia, size=128)
    path = tmp_path / name
    Image.fromarray(pixels).resize((300, 500), Image.Resampling.BILINEAR).save(path)
    return load_image(path)


def model_input(classifier, image) -> np.ndarray:
    return classifier.prepare(image)


def lime_running_or_over(panel: ExplainPanel) -> bool:
    """LIME has classified its first batch, or already ended (then the test says why)."""
    return panel.lime_progress.value() > 0 or panel.lime_worker is None


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def panel(qtbot, view, tiny_classifier, tmp_path) -> ExplainPanel:
    widget = ExplainPanel(tiny_classifier, view)
    qtbot.addWidget(widget)
    widget.lime_batch_size = 25
    image = film(tmp_path, "film.png", pneumonia=True)
    view.set_image(image.pixels)
    widget.set_image(image, model_input(tiny_classifier, image))
    return widget


def test_gradcam_overlay_appears_aligned_with_the_film(panel, view, qtbot) -> None:
    qtbot.waitUntil(lambda: view.overlay() is not None, timeout=TIMEOUT_MS)
    assert view.overlay().shape == (224, 224, 4)
    assert view.is_overlay_visible() and "Grad-CAM" in panel.legend_label.text()
    image_rect = view.image_item.sceneBoundingRect()
    overlay_rect = view.overlay_item.sceneBoundingRect()
    assert (image_rect.width(), image_rect.height()) == (300, 500)
    for a, b in zip(overlay_rect.getCoords(), image_rect.getCoords(), strict=True):
        assert a == pytest.approx(b)
    panel.show_overlay_check.setChecked(False)
    assert not view.is_overlay_visible()
    panel.opacity_slider.setValue(80)
    assert view.overlay_opacity() == pytest.approx(0.8)
    panel.overlay_combo.setCurrentText("None")
    assert view.overlay() is None


def test_lime_completes_and_sets_an_overlay(panel, view, qtbot) -> None:
    panel.samples_spin.setMinimum(50)  # the UI floor is 100; 50 keeps the test quick
    panel.apply_lime_settings({"num_samples": 50, "num_features": 4})
    assert panel.lime_settings() == {"num_samples": 50, "num_features": 4}
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.explain_button.click()
    assert finished.args == ["done"], panel.lime_status.text()
    assert panel.overlay_combo.currentText() == "LIME boundaries"
    boundaries = view.overlay()
    assert boundaries is not None and boundaries.shape == (224, 224, 4)
    assert (boundaries[..., 3] == 255).any()  # outlines drawn opaque
    assert "Done" in panel.lime_status.text() and panel.lime_progress.value() == 100
    panel.overlay_combo.setCurrentText("LIME heatmap")
    heatmap = view.overlay()
    assert heatmap is not None and not np.array_equal(heatmap, boundaries)
    assert panel.explain_button.isEnabled() and panel.lime_worker is None


def test_lime_cancel_ends_quietly(panel, qtbot) -> None:
    panel.apply_lime_settings({"num_samples": 5000})
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.explain_button.click()
        assert panel.cancel_button.isEnabled() and not panel.explain_button.isEnabled()
        qtbot.waitUntil(lambda: lime_running_or_over(panel), timeout=TIMEOUT_MS)
        panel.cancel_button.click()
    assert finished.args == ["cancelled"], panel.lime_status.text()
    assert "cancelled" in panel.lime_status.text().lower()
    assert panel.lime_progress.value() == 0 and panel.explain_button.isEnabled()
    assert panel.overlay_combo.currentText() == "Grad-CAM"  # no half-made LIME overlay


def test_new_image_cancels_running_lime(panel, qtbot, tiny_classifier, tmp_path) -> None:
    panel.apply_lime_settings({"num_samples": 5000})
    other = film(tmp_path, "other.png", pneumonia=False, seed=1)
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.explain_button.click()
        panel.set_image(other, model_input(tiny_classifier, other))
    assert finished.args == ["cancelled"], panel.lime_status.text()


def test_closing_while_lime_runs_waits_for_the_worker(panel, qtbot) -> None:
    panel.apply_lime_settings({"num_samples": 5000})
    panel.explain_button.click()
    worker = panel.lime_worker
    qtbot.waitUntil(lambda: lime_running_or_over(panel), timeout=TIMEOUT_MS)
    assert panel.lime_worker is worker, panel.lime_status.text()  # still running
    panel.close()
    assert not worker.is_running() and worker.abort_requested


def test_feature_maps_grid(panel, qtbot, tiny_classifier) -> None:
    layers = list(explain.feature_map_layers(tiny_classifier))
    assert [panel.layer_combo.itemText(i) for i in range(panel.layer_combo.count())] == layers
    panel.layer_combo.setCurrentText(layers[0])
    with qtbot.waitSignal(panel.featureMapsReady, timeout=TIMEOUT_MS):
        panel.feature_check.setChecked(True)
    maps = panel.current_feature_maps()
    height, width, count = maps.shape
    tiles = min(count, 64)
    cols = int(np.ceil(np.sqrt(tiles)))
    rows = int(np.ceil(tiles / cols))
    assert panel.feature_view.pixels.shape == (rows * (height + 2) - 2, cols * (width + 2) - 2)
    assert panel.channel_spin.maximum() == count - 1
    panel.channel_spin.setValue(3)
    assert panel.feature_view.pixels.shape == (height, width)


def test_what_the_model_sees(panel) -> None:
    panel.model_input_check.setChecked(True)
    shown = panel.model_input_view.pixels
    assert shown.shape == (224, 224)
    assert np.array_equal(shown, np.rint(panel.model_input[..., 0]).astype(np.uint8))
    assert "standardises" in panel.model_input_check.toolTip()


def test_waits_for_the_model_then_explains(qtbot, view, tiny_classifier, tmp_path) -> None:
    panel = ExplainPanel(None, view, settings={"num_samples": "2000", "num_features": "x"})
    qtbot.addWidget(panel)
    assert panel.lime_settings() == {"num_samples": 2000, "num_features": 8}
    image = film(tmp_path, "film.png", pneumonia=False)
    view.set_image(image.pixels)
    panel.set_image(image, model_input(tiny_classifier, image))
    assert panel.status_label.text() == "model loading…"
    assert not panel.explain_button.isEnabled() and not panel.feature_check.isEnabled()
    panel.set_classifier(tiny_classifier)
    assert panel.explain_button.isEnabled()
    qtbot.waitUntil(lambda: view.overlay() is not None, timeout=TIMEOUT_MS)
