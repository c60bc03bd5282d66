"""One training run: split, fit, pick the threshold on validation, score test, write the card."""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np

from . import data, evaluate
from .card import Scored, build_card, read_card, write_card
from .config import TrainConfig
from .export import export_model
from .io import atomic_save_model, atomic_write_json
from .models import build_augmenter, build_model
from .registry import spec_for
from .resume import ResumableRun

logger = logging.getLogger(__name__)


def build_optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    rate = config.learning_rate
    if config.cosine_decay:
        rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, steps_per_epoch * config.epochs), alpha=0.05
        )
    return keras.optimizers.Adam(rate)


def predict(model, dataset) -> np.ndarray:
    return np.asarray(model.predict(dataset, verbose=0)).reshape(-1).astype(np.float64)


def library_versions() -> dict[str, str]:
    import keras
    import numpy
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def train(config: TrainConfig, log=logger.info) -> dict:
    """Train ``config.model_name`` and write model, card, history and plots to ``out_dir``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    data_dir = Path(config.data_dir)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    records = data.list_split(data_dir / "train", config.limit_per_class)
    test_records = data.list_split(data_dir / "test", config.limit_per_class)
    train_records, val_records = data.split_validation(
        records, config.val_fraction, config.seed, by=config.split
    )
    log(
        f"{config.model_name}: train {len(train_records)} / validation {len(val_records)} / "
        f"test {len(test_records)} images"
    )
    model = build_model(config)
    weights = data.class_weights(train_records) if config.class_weights else None
    train_ds = data.build_dataset(
        train_records, config, True, build_augmenter(config), mixup_weights=weights
    )
    val_ds = data.build_dataset(val_records, config, False)
    test_ds = data.build_dataset(test_records, config, False)
    steps = int(np.ceil(len(train_records) / config.batch_size))
    model.compile(
        optimizer=build_optimizer(config, steps),
        loss="binary_crossentropy",
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ],
    )
    run = ResumableRun(config)  # a killed run resumes from its last finished epoch
    if run.resuming:
        log(f"{config.model_name}: resuming after epoch {len(run.history()['loss'])}")
    started = time.perf_counter()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        # Mixup batches carry their own (blended) class weights as sample weights.
        class_weight=None if config.mixup_alpha else weights,
        callbacks=run.callbacks(),
        shuffle=False,  # the dataset shuffles itself each epoch
        verbose=2,
    )
    train_seconds = time.perf_counter() - started
    run.restore_best(model)
    history_dict = run.history()
    epochs_run = len(history_dict.get("loss", []))

    val_probs = predict(model, val_ds)
    val_labels = [r.label for r in val_records]
    if config.threshold_rule == "fixed_0.5":
        threshold, rule = 0.5, "fixed at 0.5 (the original notebook's recipe)"
    else:
        threshold = evaluate.choose_threshold(val_labels, val_probs, config.target_sensitivity)
        rule = (
            f"highest threshold with validation sensitivity >= {config.target_sensitivity} "
            "(validation carved out of train by patient; test never consulted)"
        )
    test_probs = predict(model, test_ds)
    test_labels = [r.label for r in test_records]

    model_path = out_dir / f"{config.model_name}.keras"
    atomic_save_model(model, model_path)
    atomic_write_json(out_dir / f"{config.model_name}.history.json", history_dict)
    plots = evaluate.save_plots(
        out_dir, config.model_name, history_dict, test_labels, test_probs, threshold
    )
    best_epoch = (
        int(np.argmax(history_dict["val_auc"])) + 1 if "val_auc" in history_dict else epochs_run
    )
    card_file = out_dir / f"{config.model_name}.card.json"
    card = build_card(
        config, model, model_path,
        counts={"train": data.counts(train_records), "validation": data.counts(val_records),
                "test": data.counts(test_records)},
        validation=Scored.of(val_records, val_probs),
        test=Scored.of(test_records, test_probs),
        threshold=threshold, rule=rule,
        training={
            "seconds": round(train_seconds, 1),
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "seconds_per_epoch": round(train_seconds / max(1, epochs_run), 1),
            "device": _device_name(tf),
            "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
        },
        plots=plots, libraries=library_versions(),
        # The card this run replaces carries the changelog on; a first card starts from the
        # model's release history in the registry.
        previous=read_card(card_file) if card_file.is_file() else {
            "name": config.model_name,
            "changelog": spec_for(config.model_name).changelog_entries(),
        },
    )
    write_card(card_file, card)
    run.finish()
    card["onnx"] = export_model(model_path, config.data_dir)
    # The log shows validation only: whoever compares runs by a rule written in advance must be
    # able to apply it before seeing test. The test metrics are in the card, one step away.
    op = card["metrics"]["validation"]["at_operating_threshold"]
    log(
        f"{config.model_name}: threshold {threshold:.4f}; validation sensitivity "
        f"{op['sensitivity']:.3f} specificity {op['specificity']:.3f} AUC {op['roc_auc']:.3f} "
        f"({train_seconds:.0f} s, {epochs_run} epochs); test metrics in "
        f"{card_file}"
    )
    return card


def _device_name(tf) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", gpus[0].name)
    return "CPU"
