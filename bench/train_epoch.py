"""Training speed: the original notebook's ImageDataGenerator recipe vs this package's
tf.data pipeline, measured side by side over the same number of steps, extrapolated to an epoch.

The notebook recipe: ``ImageDataGenerator(rescale=1/255, rotation, shifts, shear, zoom)``
``.flow_from_directory`` at 224x224 RGB into its conv 32/64/128 + dense 128/64 network.
This package: decode once and cache, Keras augmentation layers on batches, ``num_parallel_calls``,
into the bundled cnn_deep_aug (grayscale, 192 px, stride-2 stem).
Usage: python bench/train_epoch.py [--steps 30]
"""

from __future__ import annotations

import argparse
import time

from _common import DATA_DIR, machine

from training import data
from training.config import NOTEBOOK_AUGMENT, config_for
from training.models import build_augmenter, build_model


def steps_per_second(model, iterator, steps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        model.train_on_batch(*next(iterator))
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*next(iterator))
    return steps / (time.perf_counter() - started)


def notebook_iterator(batch_size: int):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    augment = NOTEBOOK_AUGMENT
    generator = ImageDataGenerator(
        rescale=1 / 255,
        rotation_range=augment.rotation_degrees,
        width_shift_range=augment.shift_fraction,
        height_shift_range=augment.shift_fraction,
        shear_range=augment.shear_fraction,
        zoom_range=augment.zoom_fraction,
    )
    return generator.flow_from_directory(
        DATA_DIR / "train", target_size=(224, 224), batch_size=batch_size, class_mode="binary",
        seed=0,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    import keras

    notebook_config = config_for("cnn_deep_aug_notebook")
    notebook_model = build_model(notebook_config)
    notebook_model.compile("adam", "binary_crossentropy")
    # ImageDataGenerator rescales to 0..1 itself, so its model must not rescale again.
    notebook_model = keras.Sequential(
        [keras.layers.Rescaling(255.0), notebook_model]
    )
    notebook_model.compile("adam", "binary_crossentropy")
    flow = notebook_iterator(notebook_config.batch_size)
    notebook_rate = steps_per_second(notebook_model, iter(flow), args.steps)
    notebook_epoch = len(flow) / notebook_rate

    config = config_for("cnn_deep_aug", data_dir=DATA_DIR)
    records, _ = data.split_validation(
        data.list_split(DATA_DIR / "train"), config.val_fraction, config.seed
    )
    model = build_model(config)
    model.compile("adam", "binary_crossentropy")
    dataset = data.build_dataset(records, config, True, build_augmenter(config)).repeat()
    iterator = iter(dataset)
    started = time.perf_counter()
    for _ in range(len(records) // config.batch_size + 1):  # fill the cache: one decode each
        next(iterator)
    cache_seconds = time.perf_counter() - started
    rate = steps_per_second(model, iterator, args.steps)
    epoch = (len(records) / config.batch_size) / rate

    print(f"Training speed, {args.steps} steps each after warm-up, {machine()}")
    print(f"  notebook recipe (ImageDataGenerator, 224 RGB): {notebook_epoch:6.1f} s/epoch "
          f"({len(flow)} steps)")
    print(f"  cnn_deep_aug (tf.data, cached, 192 grey):      {epoch:6.1f} s/epoch "
          f"({len(records) // config.batch_size + 1} steps; first epoch also decodes: "
          f"+{cache_seconds:.0f} s)")
    print(f"  ratio notebook / cnn_deep_aug: {notebook_epoch / epoch:.1f}x")


if __name__ == "__main__":
    main()
