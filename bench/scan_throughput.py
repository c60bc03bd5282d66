"""Scan throughput on the full-resolution X-rays, three ways side by side in one run:

1. the original notebook's way: ``keras.utils.load_img`` + ``model.predict`` one image at a time;
2. the app's scanner (``pneumo-scan``'s code path): parallel draft decoding + batched prediction;
3. the model's batched forward pass alone on already-decoded inputs (the upper bound):
   ``classify_batch``, onnxruntime over the exported graph.

Targets: (2) >= 10x (1), and (2) >= 70% of (3).

Also printed: decoding alone on one thread, and the ceiling that gives (2) when decoding and
the forward pass share the machine's cores: CPU-seconds per image are ``1/decode`` plus
``cores/forward`` (the forward pass keeps every core busy), so with perfect overlap the scan
cannot beat ``cores / (1/decode + cores/forward)``.
Usage: python bench/scan_throughput.py
"""

from __future__ import annotations

import os

import numpy as np
from _common import fullres_files, machine, timed

from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.core.model import Classifier
from pneumo_desktop.core.scan import DEFAULT_BATCH_SIZE, scan_files


def notebook_way(files, classifier, model) -> list[float]:
    """``model`` is the Keras model the app's graph was exported from."""
    import keras

    size = classifier.input_size
    mode = "grayscale" if classifier.channels == 1 else "rgb"
    probabilities = []
    for path in files:
        image = keras.utils.load_img(path, target_size=(size, size), color_mode=mode)
        if classifier.card.input_spec.equalize:  # the model's own preprocessing, as the card says
            from PIL import ImageOps

            image = ImageOps.equalize(image)
        batch = keras.utils.img_to_array(image)[None]
        probabilities.append(float(model.predict(batch, verbose=0)[0, 0]))
    return probabilities


def main() -> None:
    files = fullres_files()
    import keras

    classifier = Classifier()
    model = keras.models.load_model(classifier.card.model_path, compile=False)
    inputs = np.stack([classifier.prepare(load_image(f, min_side=224)) for f in files])
    classifier.classify_batch(inputs[:DEFAULT_BATCH_SIZE])  # warm up
    notebook_way(files[:2], classifier, model)

    n = len(files)
    t_notebook, notebook_probs = timed(notebook_way, files, classifier, model)
    t_scan, results = timed(
        lambda: list(scan_files(files, classifier, batch_size=DEFAULT_BATCH_SIZE))
    )
    t_forward, forward = timed(classifier.classify_batch, inputs)
    forward_probs = np.array([prediction.probability for prediction in forward])
    t_decode, _ = timed(lambda: [classifier.prepare(load_image(f, min_side=224)) for f in files])
    cores = os.cpu_count() or 1
    ceiling = cores / (t_decode / n + cores * t_forward / n)

    scan_probs = np.array([r.probability for r in results])
    print(f"{n} full-resolution X-rays, model {classifier.card.name}, {machine()}, "
          f"{classifier.device}")
    print(f"  notebook way (load_img + predict, one at a time): {n / t_notebook:7.1f} images/s")
    print(f"  pneumo-scan (parallel draft decode + batches):     {n / t_scan:7.1f} images/s")
    print(f"  batched forward pass alone:                        {n / t_forward:7.1f} images/s")
    print(f"  decoding alone, one thread:                        {n / t_decode:7.1f} images/s")
    print(f"  ceiling for the scan on {cores} cores (see top):        {ceiling:7.1f} images/s "
          f"= {ceiling * t_forward / n:.0%} of the forward pass")
    print(f"  scan / notebook way = {t_notebook / t_scan:.1f}x  (target >= 10x)")
    print(f"  scan / forward pass = {t_forward / t_scan:.0%}  (target >= 70%)")
    agree = np.mean((scan_probs >= classifier.threshold) == (np.array(notebook_probs) >=
                                                              classifier.threshold))
    print(f"  verdicts equal between scan and notebook way: {agree:.1%} "
          f"(max |dP| {np.max(np.abs(scan_probs - notebook_probs)):.3f}; the scan decodes with "
          f"Pillow's antialiased resize, load_img with nearest-neighbour)")
    print(f"  scan vs forward pass on the same decoded inputs: max |dP| "
          f"{np.max(np.abs(scan_probs - forward_probs)):.2e}")


if __name__ == "__main__":
    main()
