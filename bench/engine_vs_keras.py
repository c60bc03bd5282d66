"""The app's engine (onnxruntime over the exported graph) against the Keras model it was exported
from, side by side in one run:

- forward pass: images/s on batches of 32 already-decoded films, and the ratio;
- LIME at 1000 samples: the app's call against its forward bound (1000 / the rate of the graph's
  logits on batches of 128);
- cold start: a fresh interpreter that imports, loads the model and classifies one film (time
  inside the interpreter, and wall time of the whole process), for both.

Needs the training extra (TensorFlow) for the Keras side; the app itself never imports it.
Usage: python bench/engine_vs_keras.py [--films N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import REPO_ROOT, fullres_files, machine, timed

from pneumo_desktop.core.explain import lime_explanation, pneumonia_logits
from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.core.model import Classifier

SAMPLES = 1000
BATCH = 32

COLD_ONNX = """
import time
started = time.perf_counter()
import numpy as np
from pneumo_desktop.core.model import Classifier
classifier = Classifier()
classifier.classify(np.full((224, 224, 1), 100, np.float32))
print(time.perf_counter() - started)
"""
COLD_KERAS = """
import os, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
started = time.perf_counter()
import numpy as np
import keras
model = keras.models.load_model("models/cnn_deep_aug.keras", compile=False)
model(np.full((1, 224, 224, 1), 100, np.float32), training=False)
print(time.perf_counter() - started)
"""


def best_rate(fn, images: np.ndarray, repeats: int = 3) -> float:
    """Images per second of ``fn`` over ``images`` in batches of 32, best of ``repeats``."""
    fn(images[:BATCH])  # warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(images), BATCH):
            fn(images[start:start + BATCH])
        times.append(time.perf_counter() - started)
    return len(images) / min(times)


def cold_start(code: str) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--films", type=int, default=96)
    args = parser.parse_args()
    import keras

    classifier = Classifier()
    files = fullres_files()[: args.films]
    films = np.stack([classifier.prepare(load_image(f, min_side=224)) for f in files])
    model = keras.models.load_model(classifier.card.model_path, compile=False)

    onnx_rate = best_rate(classifier.classify_batch, films)
    keras_rate = best_rate(lambda batch: model(batch, training=False), films)
    print(f"{len(films)} films, batches of {BATCH}, {machine()}, onnxruntime "
          f"{classifier.provider}")
    print(f"  forward pass: onnxruntime {onnx_rate:6.1f} images/s (classify_batch, heads "
          f"included), Keras {keras_rate:6.1f} images/s: {onnx_rate / keras_rate:.2f}x")

    film = films[0]
    batch = np.repeat(film[None], 128, axis=0)
    logit_rate = best_rate(lambda b: pneumonia_logits(classifier, b), batch)
    bound = SAMPLES / logit_rate
    lime_times = [timed(lime_explanation, classifier, film, num_samples=SAMPLES)[0]
                  for _ in range(2)]
    lime = min(lime_times)
    print(f"  LIME, {SAMPLES} samples: {lime:5.2f} s; forward bound {bound:5.2f} s "
          f"({logit_rate:.0f} logits/s): {lime / bound:.2f}x the bound")

    onnx_cold = [cold_start(COLD_ONNX) for _ in range(3)]
    keras_cold = [cold_start(COLD_KERAS) for _ in range(3)]
    for name, runs in (("onnxruntime", onnx_cold), ("Keras", keras_cold)):
        inside = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(f"  cold start, {name:11s}: import + load + one prediction {inside:5.2f} s "
              f"(process wall {wall:5.2f} s), median of 3")
    ratio = statistics.median(r[0] for r in keras_cold) / statistics.median(
        r[0] for r in onnx_cold)
    print(f"  cold start ratio Keras / onnxruntime: {ratio:.1f}x")


if __name__ == "__main__":
    main()
