import numpy as np

from training.config import AugmentConfig, config_for
from training.models import RandomResolutionLoss, build_augmenter


def test_resolution_loss_removes_fine_texture_in_training_only():
    rng = np.random.default_rng(0)
    films = rng.uniform(0, 255, (8, 64, 64, 1)).astype("float32")  # all fine texture
    layer = RandomResolutionLoss(1.0)
    np.testing.assert_array_equal(np.asarray(layer(films, training=False)), films)
    blurred = np.asarray(layer(films, training=True))

    def texture(images):
        return np.abs(np.diff(images, axis=2)).mean(axis=(1, 2, 3))

    assert blurred.shape == films.shape
    assert np.all(texture(blurred) <= texture(films) + 1e-3)
    assert texture(blurred).mean() < 0.8 * texture(films).mean()
    # The blend is drawn per film: some films lose much more texture than others.
    assert np.ptp(texture(blurred)) > 5.0


def test_zoom_range_pair_reaches_keras_as_given():
    augment = AugmentConfig(zoom_fraction=(-0.25, 0.1), resolution_loss=0.5)
    augmenter = build_augmenter(config_for("cnn_deep_aug").replace(augment=augment))
    zoom = next(layer for layer in augmenter.layers if type(layer).__name__ == "RandomZoom")
    assert tuple(zoom.height_factor) == (-0.25, 0.1) and tuple(zoom.width_factor) == (-0.25, 0.1)
    assert any(type(layer).__name__ == "RandomResolutionLoss" for layer in augmenter.layers)
