"""``build_*`` functions for the model zoo. Each takes a TrainConfig and returns a Keras model.

Every model takes ``(224, 224, channels)`` float pixels in 0..255 and does its own resizing and
normalisation, so the app feeds every model the same way.
"""

from __future__ import annotations

import functools
import math

from .config import INPUT_SIZE, TrainConfig


def build_inputs(config: TrainConfig):
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, config.channels), name="image")
    x = inputs
    if config.frame_lungs:
        from .framing import framed_input

        return inputs, framed_input(inputs, config.working_size, jitter=config.frame_jitter,
                                    equalize=config.equalize_crop)
    if config.working_size != INPUT_SIZE:
        x = layers.Resizing(config.working_size, config.working_size, name="resize")(x)
    return inputs, x


def build_augmenter(config: TrainConfig):
    """Training-only augmentation; never part of the saved model."""
    import keras
    from keras import layers

    aug = config.augment
    if aug is None:
        return None
    steps = []
    if aug.rotation_degrees:
        steps.append(layers.RandomRotation(aug.rotation_degrees / 360.0, fill_mode="constant"))
    if aug.shift_fraction:
        steps.append(
            layers.RandomTranslation(aug.shift_fraction, aug.shift_fraction, fill_mode="constant")
        )
    if aug.shear_fraction:
        steps.append(
            layers.RandomShear(
                x_factor=aug.shear_fraction, y_factor=aug.shear_fraction, fill_mode="constant"
            )
        )
    if aug.zoom_fraction:
        zoom = (
            tuple(aug.zoom_fraction)
            if isinstance(aug.zoom_fraction, (tuple, list))
            else (-aug.zoom_fraction, aug.zoom_fraction)
        )
        steps.append(
            layers.RandomZoom(zoom, zoom if aug.independent_zoom else None, fill_mode="constant")
        )
    if aug.contrast:
        steps.append(layers.RandomContrast(aug.contrast, value_range=(0, 255)))
    if aug.brightness:
        steps.append(layers.RandomBrightness(aug.brightness, value_range=(0, 255)))
    if aug.gamma:
        steps.append(RandomGamma(aug.gamma))
    if aug.sharpness:
        steps.append(layers.RandomSharpness(aug.sharpness, value_range=(0, 255)))
    if aug.resolution_loss:
        steps.append(RandomResolutionLoss(aug.resolution_loss))
    return keras.Sequential(steps, name="augment")


@functools.cache
def _augmentation_layer_classes():
    """The package's own augmentation layers, built on first use so that importing this module
    does not import Keras."""
    import keras
    from keras import ops

    class PerFilmRandomLayer(keras.layers.Layer):
        """Identity at inference; in training :meth:`augment` changes each film by an amount
        drawn per film (:meth:`per_film_uniform`), up to ``factor``."""

        def __init__(self, factor: float, seed: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=True):
            return self.augment(images) if training else images

        def per_film_uniform(self, images, low: float, high: float):
            shape = (ops.shape(images)[0], 1, 1, 1)
            return keras.random.uniform(shape, low, high, seed=self.seed_generator)

    class RandomGamma(PerFilmRandomLayer):
        """Per-image gamma in [1/(1+g), 1+g] (log-uniform): exposure and detector curves differ
        between clinics, and a model must not read the curve instead of the lungs."""

        def augment(self, images):
            limit = math.log(1.0 + self.factor)
            log_gamma = self.per_film_uniform(images, -limit, limit)
            scaled = ops.clip(images / 255.0, 0.0, 1.0)
            return 255.0 * ops.power(scaled + 1e-6, ops.exp(log_gamma))

    class RandomResolutionLoss(PerFilmRandomLayer):
        """Per film, blend in up to ``factor`` of a copy resampled to half resolution and back:
        a film from a smaller detector or a stronger downscale carries less fine texture, and
        the network must not read the missing texture as disease."""

        def augment(self, images):
            height, width = images.shape[1], images.shape[2]
            coarse = ops.image.resize(images, (height // 2, width // 2), interpolation="area")
            coarse = ops.image.resize(coarse, (height, width), interpolation="bilinear")
            blend = self.per_film_uniform(images, 0.0, self.factor)
            return blend * coarse + (1.0 - blend) * images

    return {"RandomGamma": RandomGamma, "RandomResolutionLoss": RandomResolutionLoss}


def RandomGamma(factor: float):  # noqa: N802 - reads like the layer it builds
    return _augmentation_layer_classes()["RandomGamma"](factor)


def RandomResolutionLoss(factor: float):  # noqa: N802 - reads like the layer it builds
    return _augmentation_layer_classes()["RandomResolutionLoss"](factor)


def build_dense_head(x, dropout: float = 0.0):
    from keras import layers

    x = layers.Dense(128, activation="relu", name="dense_128")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(64, activation="relu", name="dense_64")(x)
    return layers.Dense(1, activation="sigmoid", name="pneumonia", dtype="float32")(x)


def build_ann(config: TrainConfig):
    import keras
    from keras import layers

    inputs, x = build_inputs(config)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, build_dense_head(x), name="ann")


def build_notebook_cnn(config: TrainConfig, conv_filters: tuple[int, ...]):
    """The original notebook's CNNs: 3x3 conv + 2x2 max pooling blocks, flatten, dense 128/64."""
    import keras
    from keras import layers

    inputs, x = build_inputs(config)
    x = layers.Rescaling(1.0 / 255)(x)
    for index, filters in enumerate(conv_filters):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{index + 1}")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, build_dense_head(x), name=config.model_name)


def build_cnn_deep_aug(config: TrainConfig):
    """The bundled model: the notebook's deep CNN made robust to the clinic it runs in.

    * per-image standardisation (zero mean, unit variance over the whole film) inside the
      model removes exposure and contrast differences between X-ray machines;
    * batch-normalised conv blocks 32 (stride 2)/64/128/256/256 with max pooling, then global
      average pooling instead of flatten, so the decision cannot hang on where the child sits;
    * dense 128/64 with dropout, sigmoid output P(pneumonia).
    """
    import keras
    from keras import layers

    inputs, x = build_inputs(config)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.LayerNormalization(
        axis=(1, 2, 3), center=False, scale=False, epsilon=1e-3, name="standardize"
    )(x)
    for index, filters in enumerate((32, 64, 128, 256, 256)):
        # A stride-2 first convolution halves the cost of every later block; the fine texture
        # it skips is below what survives the 224-px source films anyway.
        x = layers.Conv2D(
            filters,
            3,
            strides=2 if index == 0 else 1,
            padding="same",
            use_bias=False,
            name=f"conv{index + 1}",
        )(x)
        x = layers.BatchNormalization(name=f"bn{index + 1}")(x)
        x = layers.Activation("relu", name=f"relu{index + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, build_dense_head(x, dropout=0.3), name="cnn_deep_aug")


def build_transfer(config: TrainConfig):
    """Xception or ResNet101 with ImageNet weights from a local file, frozen, new head."""
    import keras
    from keras import layers

    weights = config.weights_file
    if weights is None or not weights.is_file():
        raise FileNotFoundError(
            f"{config.model_name} needs ImageNet weights and nothing can be downloaded here: "
            f"pass --weights FILE (the Keras 'notop' .h5 for {config.model_name}); "
            f"got {weights or 'no --weights'}"
        )
    inputs, x = build_inputs(config)
    if config.model_name == "xception":
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)
        base = keras.applications.Xception(
            include_top=False, weights=str(weights), input_shape=x.shape[1:]
        )
    else:
        # Caffe-style mean subtraction; the films are grey, so RGB vs BGR order is moot.
        x = layers.Normalization(mean=[103.939, 116.779, 123.68], variance=[1.0, 1.0, 1.0])(x)
        base = keras.applications.ResNet101(
            include_top=False, weights=str(weights), input_shape=x.shape[1:]
        )
    base.trainable = False
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, build_dense_head(x), name=config.model_name)


def load_model(path):
    """A saved model of this package, with its custom layers (lung framing) registered."""
    import keras

    from . import framing  # noqa: F401 - registers FrameBox and FrameCrop with Keras

    return keras.models.load_model(path, compile=False)


def build_model(config: TrainConfig):
    """The model ``config.model_name`` names, by its builder in :mod:`training.registry`."""
    from .registry import spec_for  # the registry imports this module

    return spec_for(config.model_name).build(config)
