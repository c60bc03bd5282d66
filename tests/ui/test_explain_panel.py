"""ExplainPanel over the real tiny classifier: Grad-CAM, LIME (run, cancel, film change, close),
the model's input and feature maps, all computed on the inference thread. LIME runs with few
samples to keep the suite quick."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core import explain
from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.core.inference import classify_film
from pneumo_desktop.ui.explain_panel import ExplainPanel
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.preferences import LimeSettings
from tests.conftest import synthetic_xray

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU


def film(tmp_path, name: str, pneumonia: bool, seed: int = 0):
    """A 300x500 (non-square) film written to disk and loaded the way the viewer loads it."""
    pixels = synthetic_xray(np.random.default_rng(seed), pneumonia, size=128)
    path = tmp_path / name
    Image.fromarray(pixels).resize((300, 500), Image.Resampling.BILINEAR).save(path)
    return load_image(path)


def lime_running_or_over(panel: ExplainPanel) -> bool:
    """LIME has classified its first batch, or already ended (then the test says why)."""
    return panel.lime.progress_bar.value() > 0 or not panel.lime.is_running


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def panel(qtbot, view, inference, tiny_classifier, tmp_path) -> ExplainPanel:
    widget = ExplainPanel(inference, view)
    qtbot.addWidget(widget)
    widget.lime.batch_size = 25
    widget.lime.samples_spin.setMinimum(50)  # the UI floor is 100; 50 keeps tests quick
    image = film(tmp_path, "film.png", pneumonia=True)
    view.set_image(image.pixels)
    # The viewer gets this from the inference thread; nothing else runs the model yet.
    widget.set_classification(classify_film(tiny_classifier, image))
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
    panel.apply_lime_settings(LimeSettings(num_samples=50, num_features=4))
    assert panel.lime_settings() == LimeSettings(50, 4)
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.lime.explain_button.click()
    assert finished.args == ["done"], panel.lime.status_label.text()
    assert panel.overlay_combo.currentText() == "LIME boundaries"
    boundaries = view.overlay()
    assert boundaries is not None and boundaries.shape == (224, 224, 4)
    assert (boundaries[..., 3] == 255).any()  # outlines drawn opaque
    assert "Done" in panel.lime.status_label.text() and panel.lime.progress_bar.value() == 100
    panel.overlay_combo.setCurrentText("LIME heatmap")
    heatmap = view.overlay()
    assert heatmap is not None and not np.array_equal(heatmap, boundaries)
    assert panel.lime.explain_button.isEnabled() and not panel.lime.is_running


def test_lime_cancel_ends_quietly(panel, qtbot) -> None:
    panel.apply_lime_settings(LimeSettings(num_samples=5000))
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.lime.explain_button.click()
        assert panel.lime.cancel_button.isEnabled() and not panel.lime.explain_button.isEnabled()
        qtbot.waitUntil(lambda: lime_running_or_over(panel), timeout=TIMEOUT_MS)
        panel.lime.cancel_button.click()
    assert finished.args == ["cancelled"], panel.lime.status_label.text()
    assert "cancelled" in panel.lime.status_label.text().lower()
    assert panel.lime.progress_bar.value() == 0 and panel.lime.explain_button.isEnabled()
    assert panel.overlay_combo.currentText() == "Grad-CAM"  # no half-made LIME overlay


def test_a_new_film_cancels_lime_and_clears_what_was_shown(panel, view, qtbot, tiny_classifier,
                                                           tmp_path) -> None:
    panel.apply_lime_settings(LimeSettings(num_samples=5000))
    other = film(tmp_path, "other.png", pneumonia=False, seed=1)
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.lime.explain_button.click()
        qtbot.waitUntil(lambda: lime_running_or_over(panel), timeout=TIMEOUT_MS)
        panel.clear()  # the viewer moved on
        assert panel.model_input is None and view.overlay() is None
        assert panel.lime.status_label.text() == "" and panel.lime.progress_bar.value() == 0
        view.set_image(other.pixels)
        panel.set_classification(classify_film(tiny_classifier, other))
    assert finished.args == ["cancelled"]
    assert panel.lime.status_label.text() == ""  # the old film's run says nothing here
    assert panel.lime.explain_button.isEnabled()
    qtbot.waitUntil(lambda: view.overlay() is not None, timeout=TIMEOUT_MS)  # its Grad-CAM


def test_closing_while_lime_runs_cancels_it(panel, qtbot) -> None:
    panel.apply_lime_settings(LimeSettings(num_samples=5000))
    panel.lime.explain_button.click()
    request = panel.lime.request
    qtbot.waitUntil(lambda: lime_running_or_over(panel), timeout=TIMEOUT_MS)
    assert panel.lime.request is request, panel.lime.status_label.text()  # still running
    with qtbot.waitSignal(request.finished, timeout=TIMEOUT_MS):
        with qtbot.waitSignal(request.cancelled, timeout=TIMEOUT_MS):
            panel.close()
    assert request.is_cancelled and request.is_done


def test_feature_maps_grid(panel, qtbot, tiny_classifier) -> None:
    maps_box = panel.feature_maps
    layers = list(explain.feature_map_layers(tiny_classifier))
    assert [maps_box.layer_combo.itemText(i) for i in range(maps_box.layer_combo.count())] == layers
    maps_box.layer_combo.setCurrentText(layers[0])
    with qtbot.waitSignal(panel.featureMapsReady, timeout=TIMEOUT_MS):
        maps_box.check.setChecked(True)
    maps = maps_box.current_maps()
    height, width, count = maps.shape
    tiles = min(count, 64)
    cols = int(np.ceil(np.sqrt(tiles)))
    rows = int(np.ceil(tiles / cols))
    assert maps_box.view.pixels.shape == (rows * (height + 2) - 2, cols * (width + 2) - 2)
    assert maps_box.channel_spin.maximum() == count - 1
    maps_box.channel_spin.setValue(3)
    assert maps_box.view.pixels.shape == (height, width)
    expected = explain.feature_maps(tiny_classifier, panel.model_input, layers[0])
    assert np.allclose(maps, expected, atol=1e-4)


def test_what_the_model_sees(panel, tiny_classifier) -> None:
    panel.model_input_check.setChecked(True)
    shown = panel.model_input_view.pixels
    assert shown.shape == (224, 224)
    assert np.array_equal(shown, np.rint(panel.model_input[..., 0]).astype(np.uint8))
    assert "standardises" in panel.model_input_check.toolTip()
    panel.clear()
    assert not panel.model_input_view.has_image()


def test_waits_for_the_model_then_explains(qtbot, view, loading_inference, tiny_classifier,
                                           tmp_path) -> None:
    panel = ExplainPanel(loading_inference, view, settings=LimeSettings(2000, 8))
    qtbot.addWidget(panel)
    assert panel.lime_settings() == LimeSettings(2000, 8)
    assert panel.status_label.text() == "model loading…" and panel.model_input is None
    assert not panel.lime.explain_button.isEnabled()
    assert not panel.feature_maps.check.isEnabled()
    loading_inference.set_classifier(tiny_classifier)
    assert panel.feature_maps.check.isEnabled() and panel.status_label.text() == ""
    assert not panel.lime.explain_button.isEnabled()  # nothing classified to explain yet
    image = film(tmp_path, "film.png", pneumonia=False)
    view.set_image(image.pixels)
    panel.set_classification(classify_film(tiny_classifier, image))
    assert panel.lime.explain_button.isEnabled()
    qtbot.waitUntil(lambda: view.overlay() is not None, timeout=TIMEOUT_MS)
