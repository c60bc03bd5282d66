"""Why the model said what it said: Grad-CAM, LIME and the convolutional feature maps.

All functions take a classifier (:class:`~pneumo_desktop.core.model.ClassifierProtocol`) and
one model input (``(size, size, channels)`` pixels in 0..255, as ``classifier.prepare`` makes
it), so the explanation sees exactly what the classifier sees. Everything runs on the exported
graph's outputs (``classifier.engine``) and numpy: Grad-CAM takes the gradient of the logit
through the dense head in numpy, LIME perturbs films and reads the graph's logits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class ExplanationCancelled(Exception):
    """Raised out of :func:`lime_explanation` when its cancel event is set."""


def feature_map_layers(classifier) -> tuple[str, ...]:
    """The convolution layers whose maps the model exposes, input to output."""
    return classifier.engine.feature_map_layers


def feature_maps(classifier, model_input: np.ndarray, layer_name: str) -> np.ndarray:
    """The block output of convolution ``layer_name`` (after its batch normalisation and
    activation) for this image: ``(height, width, channels)`` floats."""
    return classifier.engine.feature_maps(model_input[None].astype(np.float32), layer_name)[0]


def pneumonia_logits(classifier, images: np.ndarray) -> np.ndarray:
    """The log-odds of pneumonia for a batch of model inputs (grey ones are replicated to the
    model's channels)."""
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] != classifier.channels:
        images = np.repeat(images[..., :1], classifier.channels, axis=-1)
    return classifier.engine.logits(images)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and clamped edges (as ``tf.image.resize``):
    two small interpolation matrices, so a 6x6 map becomes 224x224 in microseconds."""

    def weights(size_in: int, size_out: int) -> np.ndarray:
        source = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, size_in - 1)
        matrix = np.zeros((size_out, size_in))
        np.add.at(matrix, (np.arange(size_out), low), 1 - (source - low))
        np.add.at(matrix, (np.arange(size_out), high), source - low)
        return matrix

    return weights(image.shape[0], height) @ image @ weights(image.shape[1], width).T


def gradcam(classifier, model_input: np.ndarray) -> np.ndarray:
    """Grad-CAM heat map for pneumonia, ``(size, size)`` in 0..1 (1 = most pneumonia-like),
    over the model input it was computed from.

    The gradient is that of the logit, not of the sigmoid: for a confident film (P = 0.9999)
    the sigmoid's gradient vanishes and the map would come out blank. Between the last
    rectified map A and the pooled features only pooling layers sit (the export checks it), so
    the mean over positions of d logit / d A_k is d logit / d gap_k divided by the map's area,
    and the head's gradient (numpy) gives the channel weights exactly. For a model that frames
    the film itself (a ``frame_box`` output), the map covers that box of the input and is put
    back there; outside it the map is 0.
    """
    maps, features, boxes = classifier.engine.gradcam_inputs(
        model_input[None].astype(np.float32))
    weights = classifier.engine.head.logit_gradient(features)[0]
    cam = np.maximum(np.tensordot(maps[0].astype(np.float64), weights, axes=([2], [0])), 0.0)
    peak = cam.max()
    cam = cam / peak if peak > 0 else cam
    size = model_input.shape[0]
    if boxes is None:
        return np.clip(resize_bilinear(cam, size, size), 0.0, 1.0)
    y0, x0, y1, x1 = np.clip(np.asarray(boxes[0], dtype=np.float64), 0.0, 1.0)
    top, left = int(round(y0 * size)), int(round(x0 * size))
    bottom, right = max(int(round(y1 * size)), top + 1), max(int(round(x1 * size)), left + 1)
    placed = np.zeros((size, size))
    placed[top:bottom, left:right] = resize_bilinear(cam, bottom - top, right - left)
    return np.clip(placed, 0.0, 1.0)


@dataclass(frozen=True)
class LimeResult:
    segments: np.ndarray  # (size, size) int superpixel labels
    weights: dict[int, float]  # superpixel -> weight towards PNEUMONIA (negative: towards NORMAL)
    top_segments: list[int]  # the ``num_features`` superpixels with the largest |weight|
    probability: float  # the classifier's P(pneumonia) on the unperturbed image
    score: float  # R^2 of LIME's local linear fit

    def heatmap(self) -> np.ndarray:
        """Per-pixel weight, scaled to -1..1 (positive: for pneumonia)."""
        lookup = np.zeros(self.segments.max() + 1, dtype=np.float64)
        for segment, weight in self.weights.items():
            lookup[segment] = weight
        scale = np.abs(lookup).max()
        return lookup[self.segments] / scale if scale > 0 else lookup[self.segments]

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of the top superpixels for (pneumonia, normal)."""
        positive = [s for s in self.top_segments if self.weights[s] > 0]
        negative = [s for s in self.top_segments if self.weights[s] < 0]
        return np.isin(self.segments, positive), np.isin(self.segments, negative)


def _fast_explainer_class():
    from lime import lime_image

    class FastLimeImageExplainer(lime_image.LimeImageExplainer):
        """lime's explainer with its neighbourhood built by array indexing.

        lime builds each perturbed image in a Python loop over superpixels (a deep copy and a
        full-image comparison per superpixel per sample), which costs more than the model's
        forward pass on two cores. The same random draws (same ``random_state`` calls, same
        first all-ones row) and the same images come out, so explanations are unchanged.
        """

        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples,
                        batch_size=10):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape(
                (num_samples, n_features)
            )
            data[0, :] = 1
            # Superpixel labels are 0..n-1, so rows[:, index] maps each pixel to its flag;
            # indexing the bool rows moves an eighth of the bytes the int rows would.
            index = np.searchsorted(np.unique(segments), segments)
            flags = data.astype(bool)
            labels = []
            for start in range(0, num_samples, batch_size):
                keep = flags[start : start + batch_size][:, index][..., None]
                labels.extend(classifier_fn(np.where(keep, image, fudged_image)))
            return data, np.array(labels)

    return FastLimeImageExplainer


#: Superpixels per film. About 80 regions keep each lobe split into a few pieces while 1000
#: samples still see every region switched on and off ~500 times.
SUPERPIXELS = 80


def film_superpixels(image: np.ndarray) -> np.ndarray:
    """SLIC superpixels of a grey film (``(size, size, 1)`` in 0..255), labels 0..n-1.

    lime's default, quickshift on an RGB copy, took about 0.8 s per 224-px film here, against
    0.04 s for SLIC; compactness 0.2 (on 0..1 intensities) lets regions follow rib and
    heart edges while staying compact enough to read as areas of lung.
    """
    from skimage.segmentation import slic

    return slic(
        image[..., 0] / 255.0,
        n_segments=SUPERPIXELS,
        compactness=0.2,
        channel_axis=None,
        start_label=0,
    )


def lime_explanation(
    classifier,
    model_input: np.ndarray,
    *,
    num_samples: int = 1000,
    num_features: int = 8,
    batch_size: int = 128,
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> LimeResult:
    """LIME over superpixels for P(pneumonia).

    The classifier function gets LIME's perturbed images in the same 0..255 range as the model
    input (no second division by 255). LIME fits its local linear model to the **log-odds** of
    pneumonia (columns: -logit, logit), not to the probability: on a confident film
    P(pneumonia) stays at 1.000 whatever is hidden, and a linear fit to a saturated value
    explains nothing (local R² near 0), while the log-odds still move.
    ``progress(done, total)`` is called after each batch; setting ``cancel`` stops at the next
    batch.
    """
    # One float32 channel: a third of the bytes per perturbed sample of LIME's float64 RGB.
    grey = model_input[..., :1].astype(np.float32)
    done = 0

    def classifier_fn(images: np.ndarray) -> np.ndarray:
        nonlocal done
        if cancel is not None and cancel.is_set():
            raise ExplanationCancelled("explanation cancelled")
        logits = pneumonia_logits(classifier, images[..., :1])
        done += len(images)
        if progress is not None:
            progress(min(done, num_samples), num_samples)
        return np.stack([-logits, logits], axis=1)

    explainer = _fast_explainer_class()(random_state=random_state)
    explanation = explainer.explain_instance(
        grey,
        classifier_fn,
        labels=(1,),
        top_labels=None,
        hide_color=0,
        num_samples=num_samples,
        batch_size=batch_size,
        num_features=max(num_features, 1),
        segmentation_fn=film_superpixels,
    )
    weights = {int(segment): float(weight) for segment, weight in explanation.local_exp[1]}
    ranked = sorted(weights, key=lambda s: abs(weights[s]), reverse=True)
    return LimeResult(
        segments=explanation.segments,
        weights=weights,
        top_segments=ranked[:num_features],
        probability=float(classifier.classify(model_input).probability),
        score=float(
            explanation.score[1] if isinstance(explanation.score, dict) else explanation.score
        ),
    )
