"""Hand-weighted Keras models whose explanations are known in advance (tests only).

:func:`brightness_model` calls pneumonia on bright films: its one useful channel is the film's
brightness, so its Grad-CAM must peak on the brightest patch. With ``box`` it first crops that
box of the film (a ``frame_box`` layer, as a model that frames the lungs itself would), so its
Grad-CAM covers only the box.
"""

from __future__ import annotations

import numpy as np


def _layer_classes():
    import keras
    import tensorflow as tf

    class ConstantBox(keras.layers.Layer):
        """The same normalised [y0, x0, y1, x1] box for every film."""

        def __init__(self, box, **kwargs):
            super().__init__(**kwargs)
            self.box = tuple(float(v) for v in box)

        def call(self, images):
            box = tf.constant([self.box], dtype=tf.float32)
            return tf.tile(box, [tf.shape(images)[0], 1])

    class CropToBox(keras.layers.Layer):
        def __init__(self, size, **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, inputs):
            images, boxes = inputs
            indices = tf.range(tf.shape(images)[0])
            return tf.image.crop_and_resize(images, boxes, indices, (self.size, self.size))

    return ConstantBox, CropToBox


def brightness_model(box: tuple[float, float, float, float] | None = None, size: int = 224):
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 1), name="image")
    x = layers.Rescaling(1.0 / 255)(inputs)
    if box is not None:
        constant_box, crop_to_box = _layer_classes()
        frame = constant_box(box, name="frame_box")(inputs)
        x = crop_to_box(size // 2, name="crop")([x, frame])
    x = layers.AveragePooling2D(8, name="shrink")(x)
    x = layers.Conv2D(2, 1, use_bias=False, name="conv1")(x)
    x = layers.Activation("relu", name="relu1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(2, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="brightness")
    model.get_layer("conv1").set_weights([np.array([[[[1.0, -1.0]]]], np.float32)])
    model.get_layer("dense_2").set_weights([np.eye(2, dtype=np.float32),
                                            np.zeros(2, np.float32)])
    model.get_layer("pneumonia").set_weights([np.array([[4.0], [-4.0]], np.float32),
                                              np.array([-2.0], np.float32)])
    return model


def film_with_patch(centre: tuple[int, int], size: int = 224, radius: int = 14) -> np.ndarray:
    """A grey ``(size, size, 1)`` film, darker lungs-like noise, one bright disc at
    ``centre`` (row, column)."""
    rng = np.random.default_rng(1)
    film = 90 + 10 * rng.standard_normal((size, size))
    rows, cols = np.mgrid[0:size, 0:size]
    film[(rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius ** 2] = 240
    return np.clip(film, 0, 255).astype(np.float32)[..., None]
