"""LIME and Grad-CAM speed, and launch-to-visible-window, measured side by side.

- LIME at 1000 samples: the app's call (batches of 128) vs lime's default call
  (``batch_size=10``) vs the forward bound (1000 / batched forward-pass rate). Target: the app's
  call <= 1.3x the bound.
- Grad-CAM latency (median of 10). Target <= 0.3 s.
- Launch to visible window and to loaded model (``pneumo-desktop --startup-time``, offscreen).
  Target <= 2 s to a visible window.
Usage: python bench/explain_and_startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import REPO_ROOT, fullres_files, machine, timed

from pneumo_desktop.core.explain import gradcam, lime_explanation, pneumonia_logits
from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.core.model import Classifier

SAMPLES = 1000


def lime_default_call(classifier, model_input):
    """The way lime's README calls it: default batch_size=10, its progress bar off."""
    from lime import lime_image

    rgb = np.repeat(model_input[..., :1], 3, axis=-1).astype(np.float64)

    def classifier_fn(images):
        p = classifier.engine.classify_outputs(images[..., :1].astype(np.float32))[0]
        return np.stack([1 - p, p], axis=1)

    return lime_image.LimeImageExplainer(random_state=0).explain_instance(
        rgb, classifier_fn, top_labels=2, hide_color=0, num_samples=SAMPLES, random_seed=0,
    )


def startup_times() -> tuple[float, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PNEUMO_DB=os.devnull + ".sqlite3")
    env["PNEUMO_DB"] = str(REPO_ROOT / "runs" / "bench-startup.sqlite3")
    done = subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.app", "--startup-time"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300,
    )
    values = [float(line.split()[-2]) for line in done.stdout.splitlines() if "after" in line]
    if len(values) != 2:
        raise RuntimeError(f"unexpected output: {done.stdout} {done.stderr}")
    return values[0], values[1]


def main() -> None:
    classifier = Classifier()
    model_input = classifier.prepare(load_image(fullres_files()[0], min_side=224))
    batch = np.repeat(model_input[None], 128, axis=0)
    pneumonia_logits(classifier, batch)
    t_forward, _ = timed(lambda: [pneumonia_logits(classifier, batch) for _ in range(4)])
    forward_rate = 4 * len(batch) / t_forward
    bound = SAMPLES / forward_rate

    t_app, _ = timed(lime_explanation, classifier, model_input, num_samples=SAMPLES)
    t_default, _ = timed(lime_default_call, classifier, model_input)
    print(f"LIME, {SAMPLES} samples, {machine()}, {classifier.device}")
    print(f"  forward bound (1000 / {forward_rate:.0f} images/s): {bound:6.2f} s")
    print(f"  app's call (batches of 128):                {t_app:6.2f} s = {t_app / bound:.2f}x "
          "bound (target <= 1.3x)")
    print(f"  lime's default call (batch_size=10):        {t_default:6.2f} s = "
          f"{t_default / bound:.2f}x bound")

    gradcam(classifier, model_input)
    latencies = []
    for _ in range(10):
        started = time.perf_counter()
        gradcam(classifier, model_input)
        latencies.append(time.perf_counter() - started)
    print(f"Grad-CAM latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms (target <= 300 ms)")

    runs = [startup_times() for _ in range(3)]
    print("Launch to visible window: " + ", ".join(f"{v:.2f} s" for v, _ in runs)
          + " (target <= 2 s); to loaded model: " + ", ".join(f"{m:.2f} s" for _, m in runs))


if __name__ == "__main__":
    main()
