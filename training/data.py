"""Listing the Kaggle-layout data set, splitting it by patient, and tf.data pipelines."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import INPUT_SIZE, TrainConfig

CLASS_NAMES = ("NORMAL", "PNEUMONIA")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}

_PNEUMONIA_NAME = re.compile(r"^person(\d+)_(bacteria|virus)_", re.IGNORECASE)
_NORMAL_NAME = re.compile(r"^(?:NORMAL2-)?IM-(\d+)-", re.IGNORECASE)


@dataclass(frozen=True)
class Record:
    path: str
    label: int  # 0 NORMAL, 1 PNEUMONIA
    subtype: str  # "normal", "bacteria" or "virus"
    patient: str


def patient_and_subtype(file_name: str) -> tuple[str, str]:
    """Patient id and subtype from a Kaggle file name.

    ``person123_bacteria_456.jpeg`` is patient ``P123``; ``IM-0115-0001.jpeg`` and
    ``NORMAL2-IM-0115-0001.jpeg`` are both patient ``N0115``: merging two prefixes that might be
    different people can only make the split more conservative, never leak a patient.
    """
    match = _PNEUMONIA_NAME.match(file_name)
    if match:
        return f"P{int(match.group(1))}", match.group(2).lower()
    match = _NORMAL_NAME.match(file_name)
    if match:
        return f"N{int(match.group(1))}", "normal"
    raise ValueError(f"cannot read a patient id from file name {file_name!r}")


def list_split(split_dir: Path, limit_per_class: int | None = None) -> list[Record]:
    """Every image under ``split_dir/{NORMAL,PNEUMONIA}``, sorted by path."""
    records = []
    for label, class_name in enumerate(CLASS_NAMES):
        class_dir = Path(split_dir) / class_name
        if not class_dir.is_dir():
            raise FileNotFoundError(f"missing class folder {class_dir}")
        paths = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if limit_per_class is not None:
            paths = paths[:limit_per_class]
        for path in paths:
            patient, subtype = patient_and_subtype(path.name)
            records.append(Record(str(path), label, subtype, patient))
    if not records:
        raise FileNotFoundError(f"no images under {split_dir}")
    return records


def split_validation(
    records: list[Record], val_fraction: float, seed: int, by: str = "patient"
) -> tuple[list[Record], list[Record]]:
    """Carve a validation set out of ``records``.

    ``by="patient"`` keeps every image of a patient on one side and draws patients per subtype,
    so both sides keep the class and bacteria/virus mix. ``by="patient_earliest"`` takes, per
    subtype, the patients with the lowest numbers instead (a hold-out in acquisition time).
    ``by="patient_earliest_series"`` does the same per *stratum*: the normal films come in two
    series (``IM-*`` and ``NORMAL2-IM-*``, numbered independently), and the plain earliest
    hold-out took its normals from ``IM-*`` alone — a validation set without a single film of
    the series that makes up most normals elsewhere. ``by="image"`` reproduces the original
    notebook's leaky split and exists only for that recipe.
    """
    rng = random.Random(seed)
    if by == "image":
        shuffled = sorted(records, key=lambda r: r.path)
        rng.shuffle(shuffled)
        n_val = max(1, round(len(shuffled) * val_fraction))
        return sorted(shuffled[n_val:], key=_key), sorted(shuffled[:n_val], key=_key)
    if by not in ("patient", "patient_earliest", "patient_earliest_series"):
        raise ValueError(f"unknown split {by!r}")
    stratum_of = stratum if by == "patient_earliest_series" else (lambda r: r.subtype)
    val_patients: set[str] = set()
    for group in sorted({stratum_of(r) for r in records}):
        # A patient may have films in two strata; the first stratum that draws them keeps them.
        patients = sorted({r.patient for r in records if stratum_of(r) == group} - val_patients)
        if by != "patient":
            # Patient numbers follow acquisition order, and the public test split holds the
            # earliest numbers (NORMAL 0001-0381, below every training NORMAL). Validating on
            # the earliest training patients asks the question the clinic asks: does a
            # threshold chosen on one period's films hold on another period's?
            patients.sort(key=patient_number)
        else:
            rng.shuffle(patients)
        n_val = max(1, math.ceil(len(patients) * val_fraction))
        val_patients.update(patients[:n_val])
    train = [r for r in records if r.patient not in val_patients]
    val = [r for r in records if r.patient in val_patients]
    return train, val


def stratum(record: Record) -> str:
    """``"bacteria"``, ``"virus"``, ``"normal/IM"`` or ``"normal/NORMAL2"``: the subtype, with
    the normal films told apart by the series their file name says they belong to."""
    if record.subtype != "normal":
        return record.subtype
    series = "NORMAL2" if Path(record.path).name.upper().startswith("NORMAL2-") else "IM"
    return f"normal/{series}"


def patient_number(patient: str) -> int:
    """``"N0115"`` -> 115: the numeric part of a patient id from :func:`patient_and_subtype`."""
    return int(patient[1:])


def _key(record: Record) -> str:
    return record.path


def class_weights(records: list[Record]) -> dict[int, float]:
    """Inverse-frequency weights, so each class carries half of the loss."""
    counts = [sum(1 for r in records if r.label == label) for label in (0, 1)]
    total = sum(counts)
    return {label: total / (2.0 * count) for label, count in enumerate(counts) if count}


def counts(records: list[Record]) -> dict[str, int]:
    result = {"total": len(records), "patients": len({r.patient for r in records})}
    for subtype in ("normal", "bacteria", "virus"):
        result[subtype] = sum(1 for r in records if r.subtype == subtype)
    return result


def pillow_equalized(path: bytes, before_equalize=None) -> np.ndarray:
    """Decode, grey, resize and equalise with Pillow: the very calls the app makes
    (``imaging.load_image`` + ``to_model_input`` + ``ImageOps.equalize``), so the model sees
    the same pixels in training and in the clinic. ``before_equalize`` (a function of the
    224x224 grey PIL image) changes the film first, as another machine would have taken it
    (``training.stress``)."""
    from PIL import Image, ImageOps

    with Image.open(path.decode() if isinstance(path, bytes) else path) as image:
        grey = image.convert("L")
    if grey.size != (INPUT_SIZE, INPUT_SIZE):
        grey = grey.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    if before_equalize is not None:
        grey = before_equalize(grey)
    return np.asarray(ImageOps.equalize(grey), dtype=np.float32)[..., None]


def decode_image(path, channels: int, equalize: bool = False):
    """Read one file into a float32 ``INPUT_SIZE`` square with values 0..255."""
    import tensorflow as tf

    if equalize:
        image = tf.numpy_function(pillow_equalized, [path], tf.float32)
        image.set_shape((INPUT_SIZE, INPUT_SIZE, 1))
        return tf.repeat(image, channels, axis=-1) if channels != 1 else image
    raw = tf.io.read_file(path)
    image = tf.io.decode_image(raw, channels=channels, expand_animations=False)
    image = tf.image.resize(image, (INPUT_SIZE, INPUT_SIZE), method="bilinear")
    image.set_shape((INPUT_SIZE, INPUT_SIZE, channels))
    return image


def build_dataset(
    records: list[Record],
    config: TrainConfig,
    training: bool,
    augmenter=None,
    mixup_weights: dict[int, float] | None = None,
):
    """cache -> shuffle -> batch -> augment -> [mixup] -> prefetch, the keras-io order.

    Every image is decoded once, then served from the in-memory cache (5,216 grayscale
    224x224 float images are about 1 GB). With ``config.mixup_alpha`` the training batches are
    blended and carry per-sample weights mixed from ``mixup_weights`` (the class weights:
    Keras' ``class_weight`` cannot weight a blended label).
    """
    import tensorflow as tf

    paths = [r.path for r in records]
    labels = [float(r.label) for r in records]
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    dataset = dataset.map(
        lambda path, label: (decode_image(path, config.channels, config.equalize), label),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    ).cache()
    if training:
        dataset = dataset.shuffle(len(paths), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(config.batch_size)
    if training and augmenter is not None:
        dataset = dataset.map(
            lambda images, label: (augmenter(images, training=True), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if training and config.mixup_alpha:
        weights = mixup_weights or {0: 1.0, 1: 1.0}
        dataset = dataset.map(
            lambda images, label: mix_batch(images, label, config.mixup_alpha, weights),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def mix_batch(images, labels, alpha: float, class_weights: dict[int, float]):
    """Blend each film of a batch with another film of the same batch (mixup).

    Returns ``(images, labels, sample_weights)``: the label is blended like the pixels, and the
    weight is the same blend of the two films' class weights.
    """
    import tensorflow as tf

    count = tf.shape(images)[0]
    first = tf.random.gamma([count], alpha)
    second = tf.random.gamma([count], alpha)
    blend = first / (first + second)  # Beta(alpha, alpha)
    partner = tf.random.shuffle(tf.range(count))
    pixel_blend = tf.reshape(blend, (-1, 1, 1, 1))
    mixed = pixel_blend * images + (1.0 - pixel_blend) * tf.gather(images, partner)
    table = tf.constant([class_weights.get(0, 1.0), class_weights.get(1, 1.0)], tf.float32)
    weight_own = tf.gather(table, tf.cast(labels, tf.int32))
    weight_partner = tf.gather(weight_own, partner)
    partner_labels = tf.gather(labels, partner)
    mixed_labels = blend * labels + (1.0 - blend) * partner_labels
    mixed_weights = blend * weight_own + (1.0 - blend) * weight_partner
    return mixed, mixed_labels, mixed_weights
