"""Lung framing inside the model: every film gets the same field of view before the network.

The bundled 1.2.0 network reads how a film was framed: cropping 5/10/15% off every border of
the test films moves the normals' median P from 0.09 to 0.31/0.77/0.99, and in the training set
pneumonia films are framed more tightly than normals. These two layers find the lung fields of
a film and crop to them, so that the network sees lungs filling the frame whatever the machine
and the radiographer did. They are standard TensorFlow ops (pooling, comparisons, cumulative
sums, matrix products) and travel in the exported ONNX graph; the app needs no new code.

:class:`FrameBox` (the model's layer named ``frame_box``) gives a normalised
``[y0, x0, y1, x1]`` box on the 224x224 input, found like this on a 4x4-pooled film:

1. *Inside the body*: a pixel with a bright pixel (bone, soft tissue) somewhere to its left and
   to its right in its row, and above and below in its column. The black air around the child
   fails this test; the lungs, enclosed by chest wall, mediastinum, clavicles and diaphragm,
   pass it.
2. *Lung weight*: how far an inside-body pixel is darker than the film's mean inside-body
   value. The threshold is relative, so an opaque pneumonia lung lowers the weight of that lung
   but does not make the whole film fail (an absolute threshold failed on pneumonia films far
   more often than on normals: a crop that fails more often on one class is itself a shortcut).
3. The box spans the 3rd to 97th percentile of the lung weight along each axis.
4. Guards: the box is made left-right symmetric about the body's midline (one opaque lung must
   not cut the other off), grown by a margin on each side (chest wall, diaphragm), given a
   minimum size (grown symmetrically about its centre), shifted back inside the film, and
   replaced by the whole film when the lung weight is too small to trust.

:class:`FrameCrop` resamples the box to the network's working size with an antialiased
bilinear filter written as two matrix products (exact, differentiable, and plain MatMul in
ONNX). The box is stretched to a square: the aspect ratio of the lung fields is normalised
too, which the source films' squashing to 224x224 had made a class cue.

Two options (research runs): :class:`CropEqualize` equalises the histogram of the crop itself
(the app's Pillow equalisation is over the whole film, so how much air and abdomen the film
held still shapes the grey levels of the lungs), and ``jitter`` moves each box edge at random
during training, so the network does not depend on exactly where the finder put the box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import ops

FRAME_BOX_LAYER = "frame_box"
FRAME_CROP_LAYER = "frame_crop"
CROP_EQUALIZE_LAYER = "crop_equalize"
WHOLE_FILM = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class FramingConfig:
    """The box finder's constants (fractions of the film unless said otherwise)."""

    pool: int = 4  # the box is found on a film pooled by this factor (224 -> 56)
    bright: float = 0.6  # a pooled value above this (0..1, equalised film) is body, not air
    lower_quantile: float = 0.03
    upper_quantile: float = 0.97
    margin: float = 0.08  # grown by this fraction of its size on each side
    min_size: float = 0.55
    # Lung weight per pooled pixel, averaged over the film; below this the film is cropped to
    # nothing (the whole film is kept). Measured on validation films: 0.02-0.08 typically.
    min_weight: float = 0.002


def _inside(mask, axis: int):
    """1 where the mask has a set pixel both before and after this one along ``axis``."""
    before = ops.cumsum(mask, axis=axis)
    after = ops.flip(ops.cumsum(ops.flip(mask, axis=axis), axis=axis), axis=axis)
    return ops.cast(before > 0, "float32") * ops.cast(after > 0, "float32")


def _quantile_bounds(profile, lower: float, upper: float):
    """Normalised (low, high) where the cumulative profile first reaches each quantile."""
    size = profile.shape[1]
    cumulative = ops.cumsum(profile, axis=1) / (ops.sum(profile, axis=1, keepdims=True) + 1e-6)
    low = ops.cast(ops.argmax(ops.cast(cumulative >= lower, "int32"), axis=1), "float32")
    high = ops.cast(ops.argmax(ops.cast(cumulative >= upper, "int32"), axis=1), "float32")
    return low / size, (high + 1.0) / size


def _guard(low, high, margin: float, min_size: float):
    """Grow by ``margin`` each side, to at least ``min_size``, then slide back inside [0, 1]."""
    centre = (low + high) / 2.0
    size = ops.minimum(ops.maximum((high - low) * (1.0 + 2.0 * margin), min_size), 1.0)
    low, high = centre - size / 2.0, centre + size / 2.0
    slide = ops.relu(-low) - ops.relu(high - 1.0)
    return low + slide, high + slide


def lung_weight(images, config: FramingConfig):
    """Per pooled pixel, how much darker than the body's mean an inside-body pixel is, and the
    inside-body mask; ``images`` are (batch, 224, 224, 1) equalised films in 0..255."""
    pooled = ops.average_pool(images[..., :1] / 255.0, config.pool, config.pool, "valid")
    pooled = pooled[..., 0]
    body = ops.cast(pooled > config.bright, "float32")
    inside = _inside(body, 1) * _inside(body, 2)
    area = ops.sum(inside, axis=(1, 2), keepdims=True) + 1e-6
    mean_inside = ops.sum(pooled * inside, axis=(1, 2), keepdims=True) / area
    return ops.relu(mean_inside - pooled) * inside, inside


def find_frame_box(images, config: FramingConfig):
    """(batch, 4) boxes ``[y0, x0, y1, x1]`` and the (batch,) lung weight behind each."""
    weight, inside = lung_weight(images, config)
    size = weight.shape[1]
    y0, y1 = _quantile_bounds(ops.sum(weight, axis=2), config.lower_quantile,
                              config.upper_quantile)
    x0, x1 = _quantile_bounds(ops.sum(weight, axis=1), config.lower_quantile,
                              config.upper_quantile)
    columns = ops.sum(inside, axis=1)
    positions = (ops.arange(size, dtype="float32") + 0.5) / size
    midline = ops.sum(columns * positions, axis=1) / (ops.sum(columns, axis=1) + 1e-6)
    half_width = ops.maximum(midline - x0, x1 - midline)
    y0, y1 = _guard(y0, y1, config.margin, config.min_size)
    x0, x1 = _guard(midline - half_width, midline + half_width, config.margin, config.min_size)
    mean_weight = ops.mean(weight, axis=(1, 2))
    found = ops.expand_dims(mean_weight >= config.min_weight, 1)
    boxes = ops.where(found, ops.stack([y0, x0, y1, x1], axis=1),
                      ops.convert_to_tensor([WHOLE_FILM], dtype="float32"))
    return boxes, mean_weight


def resampling_matrix(low, high, source: int, target: int):
    """(batch, target, source) weights of an antialiased bilinear resampling of the span
    ``[low, high]`` (normalised) of ``source`` pixels onto ``target`` pixels."""
    low, high = ops.expand_dims(low, 1), ops.expand_dims(high, 1)
    scale = (high - low) * source / target  # source pixels per target pixel
    centres = (low * source + (ops.arange(target, dtype="float32") + 0.5) * scale) - 0.5
    width = ops.maximum(scale, 1.0)  # a tent as wide as a target pixel: no aliasing
    offsets = ops.expand_dims(centres, 2) - ops.arange(source, dtype="float32")
    weights = ops.relu(1.0 - ops.abs(offsets) / ops.expand_dims(width, 2))
    return weights / (ops.sum(weights, axis=2, keepdims=True) + 1e-8)


@keras.saving.register_keras_serializable(package="pneumo_framing")
class FrameBox(keras.layers.Layer):
    """Films (batch, 224, 224, channels) in 0..255 -> lung boxes (batch, 4), see the module."""

    def __init__(self, framing: dict | None = None, jitter: float = 0.0, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.framing = FramingConfig(**(framing or {}))
        self.jitter = float(jitter)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        boxes, _ = find_frame_box(ops.stop_gradient(images), self.framing)
        if training and self.jitter:
            # Each edge moves by up to ``jitter`` of the film, then the box is kept inside it.
            noise = keras.random.uniform(ops.shape(boxes), -self.jitter, self.jitter,
                                         seed=self.seed_generator)
            boxes = ops.clip(boxes + noise, 0.0, 1.0)
        return boxes

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 4)

    def get_config(self):
        return {**super().get_config(), "framing": asdict(self.framing), "jitter": self.jitter}


@keras.saving.register_keras_serializable(package="pneumo_framing")
class FrameCrop(keras.layers.Layer):
    """``[films, boxes]`` -> each film's box resampled to ``size`` x ``size``."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        images, boxes = inputs
        height, width = images.shape[1], images.shape[2]
        rows = resampling_matrix(boxes[:, 0], boxes[:, 2], height, self.size)
        columns = resampling_matrix(boxes[:, 1], boxes[:, 3], width, self.size)
        planes = ops.transpose(images, (0, 3, 1, 2))  # batch, channels, height, width
        planes = ops.matmul(ops.expand_dims(rows, 1), planes)
        planes = ops.matmul(planes, ops.expand_dims(ops.transpose(columns, (0, 2, 1)), 1))
        return ops.transpose(planes, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        images_shape = input_shape[0]
        return (images_shape[0], self.size, self.size, images_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="pneumo_framing")
class CropEqualize(keras.layers.Layer):
    """Histogram equalisation of each (cropped) film in 0..255, from the cumulative histogram
    of every ``stride``-th pixel, interpolated linearly between grey levels."""

    def __init__(self, stride: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, images):
        images = ops.clip(ops.stop_gradient(images), 0.0, 255.0)
        batch = ops.shape(images)[0]
        sample = ops.reshape(images[:, :: self.stride, :: self.stride, :], (batch, -1, 1))
        levels = ops.arange(256, dtype="float32")
        cumulative = ops.mean(ops.cast(sample <= levels, "float32"), axis=1)  # batch, 256
        flat = ops.reshape(images, (batch, -1))
        lower = ops.floor(flat)
        fraction = flat - lower
        lower = ops.cast(lower, "int32")
        upper = ops.minimum(lower + 1, 255)
        low_value = ops.take_along_axis(cumulative, lower, axis=1)
        high_value = ops.take_along_axis(cumulative, upper, axis=1)
        equalised = 255.0 * (low_value + fraction * (high_value - low_value))
        return ops.reshape(equalised, ops.shape(images))

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


def framed_input(inputs, working_size: int, framing: FramingConfig | None = None,
                 jitter: float = 0.0, equalize: bool = False):
    """The film cropped to its lung box at the working size, for a model's first layers."""
    boxes = FrameBox(asdict(framing or FramingConfig()), jitter=jitter,
                     name=FRAME_BOX_LAYER)(inputs)
    crops = FrameCrop(working_size, name=FRAME_CROP_LAYER)([inputs, boxes])
    return CropEqualize(name=CROP_EQUALIZE_LAYER)(crops) if equalize else crops
