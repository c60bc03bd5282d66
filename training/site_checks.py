"""Checks that judge a model without test labels: `python -m training checks`.

On **validation** (training data, labels allowed): AUC, the factory threshold's specificity per
normal series, the lung-framing box statistics by class (a crop that fails more often on one
class is itself a shortcut), and the share of Grad-CAM mass inside the lung box.

On the **test images without their labels** (the test films stand in for a new clinic; these
functions take file paths only, so no label can reach them):

* *crop drift*: how far the log-odds of pneumonia move when 5/10/15% of every border is cut
  off. A network that reads the lungs barely moves; 1.2.0 read a tighter field of view as
  pneumonia.
* *AdaBN shift*: how far the log-odds move when the BatchNorm statistics are re-estimated on
  the site's films. A network whose features do not shift between sites barely moves.

``models/zoo/choice-2026-12-01.md`` defines how these are used to choose a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import data, evaluate, framing, stress
from .models import load_model

CROP_FRACTIONS = (0.05, 0.10, 0.15)
LAST_CONV_MAP = "relu5"


def logit(probabilities) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64).reshape(-1), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def render(paths, shift=None) -> np.ndarray:
    """The films as the app feeds them (equalised 224x224), optionally changed first."""
    return np.stack([data.pillow_equalized(path, shift) for path in paths])


def crop_drift(model, paths, fractions=CROP_FRACTIONS, batch_size: int = 64) -> dict:
    """Per fraction c: median over the films of logit(P with c cut off every border) minus
    logit(P); ``drift`` is the mean of those medians. Takes paths only: label-free."""
    plain = logit(model.predict(render(paths), batch_size=batch_size, verbose=0))
    medians = {}
    for fraction in fractions:
        keep = 1.0 - 2.0 * fraction

        def cut(image, keep=keep):
            return stress._crop_resize(image, keep, keep)

        cropped = logit(model.predict(render(paths, cut), batch_size=batch_size, verbose=0))
        medians[f"{fraction:.2f}"] = float(np.median(cropped - plain))
    return {"median_logit_shift": medians, "drift": float(np.mean(list(medians.values())))}


def adapt_batchnorm(model, films: np.ndarray, batch_size: int = 64) -> None:
    """AdaBN (Li et al. 2016): replace every BatchNorm layer's moving statistics, in order, by
    those of its inputs on ``films`` (earlier layers already adapted). Changes ``model``."""
    import keras

    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(model.input, layer.input)
        total = total_squares = 0.0
        count = 0
        for start in range(0, len(films), batch_size):
            values = np.asarray(probe(films[start:start + batch_size], training=False),
                                dtype=np.float64)
            values = values.reshape(-1, values.shape[-1])
            total = total + values.sum(axis=0)
            total_squares = total_squares + np.square(values).sum(axis=0)
            count += values.shape[0]
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(total_squares / count - mean**2, 0.0)
                                     .astype(np.float32))


def adabn_shift(model_file: Path, paths, batch_size: int = 64) -> dict:
    """Mean and median |logit adapted − logit plain| over the films. Label-free."""
    films = render(paths)
    plain = logit(load_model(model_file).predict(films, batch_size=batch_size, verbose=0))
    adapted_model = load_model(model_file)
    adapt_batchnorm(adapted_model, films, batch_size)
    adapted = logit(adapted_model.predict(films, batch_size=batch_size, verbose=0))
    shift = adapted - plain
    return {"mean_abs_logit_shift": float(np.mean(np.abs(shift))),
            "median_logit_shift": float(np.median(shift))}


def frame_boxes(model, films: np.ndarray) -> np.ndarray:
    """The model's own box per film, or the whole film for a model without framing."""
    import keras

    names = {layer.name for layer in model.layers}
    if framing.FRAME_BOX_LAYER not in names:
        return np.tile(np.array(framing.WHOLE_FILM, np.float32), (len(films), 1))
    box_model = keras.Model(model.input, model.get_layer(framing.FRAME_BOX_LAYER).output)
    return np.asarray(box_model.predict(films, batch_size=64, verbose=0))


def lung_boxes(films: np.ndarray, config: framing.FramingConfig | None = None):
    """Boxes and lung weights by the box finder; by default the lung fields themselves (no
    margin, no minimum size)."""
    config = config or framing.FramingConfig(margin=0.0, min_size=0.0)
    boxes, weight = [], []
    for start in range(0, len(films), 100):
        found, mean_weight = framing.find_frame_box(films[start:start + 100], config)
        boxes.append(np.asarray(found))
        weight.append(np.asarray(mean_weight))
    return np.concatenate(boxes), np.concatenate(weight)


def gradcam(model, films: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM of the pneumonia log-odds on the last rectified conv map, (n, h, w)."""
    import keras
    import tensorflow as tf

    probe = keras.Model(model.input, [model.get_layer(LAST_CONV_MAP).output, model.output])
    maps = []
    for start in range(0, len(films), batch_size):
        batch = tf.convert_to_tensor(films[start:start + batch_size])
        with tf.GradientTape() as tape:
            conv, probability = probe(batch, training=False)
            p = tf.clip_by_value(probability, 1e-7, 1 - 1e-7)
            log_odds = tf.math.log(p / (1 - p))
        gradients = tape.gradient(log_odds, conv)
        weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
        maps.append(tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1)).numpy())
    return np.concatenate(maps)


def _overlap(cells: int, frame_low, frame_high, inside_low, inside_high) -> np.ndarray:
    """(n, cells): the fraction of each cell of the frame's span that lies inside the span."""
    edges = np.linspace(0.0, 1.0, cells + 1)
    low = frame_low[:, None] + edges[None, :-1] * (frame_high - frame_low)[:, None]
    high = frame_low[:, None] + edges[None, 1:] * (frame_high - frame_low)[:, None]
    inside = np.minimum(high, inside_high[:, None]) - np.maximum(low, inside_low[:, None])
    return np.clip(inside, 0.0, None) / np.maximum(high - low, 1e-9)


def gradcam_share_inside(maps: np.ndarray, frames: np.ndarray, lungs: np.ndarray) -> np.ndarray:
    """Per film, the share of Grad-CAM mass (computed in the frame ``frames``) that falls inside
    the lung box ``lungs``; both boxes normalised on the film. NaN where the map is empty."""
    rows = _overlap(maps.shape[1], frames[:, 0], frames[:, 2], lungs[:, 0], lungs[:, 2])
    columns = _overlap(maps.shape[2], frames[:, 1], frames[:, 3], lungs[:, 1], lungs[:, 3])
    inside = np.einsum("nij,ni,nj->n", maps, rows, columns)
    total = maps.sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def box_statistics(boxes: np.ndarray, weight: np.ndarray, labels: np.ndarray) -> dict:
    """Per class: how often the box finder fell back to the whole film or was held at the
    minimum size, and the median box."""
    config = framing.FramingConfig()
    heights, widths = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    result = {}
    for label, name in enumerate(data.CLASS_NAMES):
        mask = labels == label
        result[name] = {
            "n": int(mask.sum()),
            "fallback_whole_film": float((weight[mask] < config.min_weight).mean()),
            "held_at_min_size": float(
                (np.isclose(heights[mask], config.min_size, atol=1e-4)
                 | np.isclose(widths[mask], config.min_size, atol=1e-4)).mean()),
            "median_height": float(np.median(heights[mask])),
            "median_width": float(np.median(widths[mask])),
        }
    return result


def validation_checks(model, card: dict, data_dir: Path) -> dict:
    """AUC, factory-threshold specificity per normal series, boxes and Grad-CAM share."""
    from sklearn.metrics import roc_auc_score

    split = card["data"]
    records = data.list_split(Path(data_dir) / "train")
    _, validation = data.split_validation(
        records, split["validation_fraction"], split["split_seed"], by=split["split"]
    )
    films = render([record.path for record in validation])
    labels = np.array([record.label for record in validation])
    probabilities = np.asarray(model.predict(films, batch_size=64, verbose=0)).reshape(-1)
    threshold = float(card["threshold"]["value"])
    flagged = probabilities >= threshold
    strata = np.array([data.stratum(record) for record in validation])
    result = {
        "images": len(validation),
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "threshold": threshold,
        "sensitivity": float(flagged[labels == 1].mean()),
        "specificity": float((~flagged[labels == 0]).mean()),
        "specificity_by_series": {
            name.split("/")[1]: float((~flagged[strata == name]).mean())
            for name in sorted(set(strata)) if name.startswith("normal/")
        },
        "specificity_at_sensitivity_0.995": evaluate.binary_metrics(
            labels, probabilities,
            evaluate.choose_threshold(labels, probabilities, 0.995))["specificity"],
    }
    frames = frame_boxes(model, films)
    lungs, weight = lung_boxes(films)
    if framing.FRAME_BOX_LAYER in {layer.name for layer in model.layers}:
        _, own_weight = lung_boxes(films, model.get_layer(framing.FRAME_BOX_LAYER).framing)
        result["frame_boxes"] = box_statistics(frames, own_weight, labels)
    share = gradcam_share_inside(gradcam(model, films), frames, lungs)
    result["gradcam_share_in_lung_box"] = {
        name: float(np.nanmedian(share[labels == label]))
        for label, name in enumerate(data.CLASS_NAMES)
    }
    result["gradcam_share_in_lung_box"]["all_mean"] = float(np.nanmean(share))
    return result


def run_checks(model_file: Path, data_dir: Path, adabn: bool = True) -> dict:
    """Every check for one model: validation, then the label-free site checks on test images."""
    model_file = Path(model_file)
    card = json.loads(model_file.with_name(model_file.stem + ".card.json").read_text("utf-8"))
    model = load_model(model_file)
    # Paths only: the test labels never enter the site checks.
    site_paths = [record.path for record in data.list_split(Path(data_dir) / "test")]
    report = {
        "model": card["name"],
        "version": card["version"],
        "validation": validation_checks(model, card, data_dir),
        "site_crop_drift": crop_drift(model, site_paths),
    }
    if adabn:
        report["site_adabn_shift"] = adabn_shift(model_file, site_paths)
    return report


def format_checks(report: dict) -> str:
    val = report["validation"]
    series = ", ".join(f"{k} {v:.3f}" for k, v in val["specificity_by_series"].items())
    lines = [
        f"{report['model']} {report['version']}",
        f"validation: AUC {val['roc_auc']:.4f}; threshold {val['threshold']:.4f}: sensitivity "
        f"{val['sensitivity']:.3f}, specificity {val['specificity']:.3f} ({series}); "
        f"specificity at sensitivity 0.995: {val['specificity_at_sensitivity_0.995']:.3f}",
    ]
    if "frame_boxes" in val:
        for name, row in val["frame_boxes"].items():
            lines.append(
                f"frame box {name}: fallback {row['fallback_whole_film']:.3f}, held at minimum "
                f"{row['held_at_min_size']:.3f}, median {row['median_height']:.2f} x "
                f"{row['median_width']:.2f}"
            )
    share = val["gradcam_share_in_lung_box"]
    lines.append(f"Grad-CAM share in lung box (median): NORMAL {share['NORMAL']:.3f}, "
                 f"PNEUMONIA {share['PNEUMONIA']:.3f}; mean over films {share['all_mean']:.3f}")
    drift = report["site_crop_drift"]
    shifts = ", ".join(f"{k}: {v:+.2f}" for k, v in drift["median_logit_shift"].items())
    lines.append(f"site crop drift D = {drift['drift']:+.3f} (median logit shift {shifts})")
    if "site_adabn_shift" in report:
        adabn = report["site_adabn_shift"]
        lines.append(f"site AdaBN shift: mean |logit change| {adabn['mean_abs_logit_shift']:.3f}, "
                     f"median change {adabn['median_logit_shift']:+.3f}")
    return "\n".join(lines)
