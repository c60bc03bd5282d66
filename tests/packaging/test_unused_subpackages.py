"""The parts of scikit-learn, scikit-image and SciPy the bundle leaves out
(``spec_rules.UNUSED_SUBPACKAGES``) are never imported by the app: every module of
pneumo_desktop imported, then LIME on the real model (SLIC, lime's ridge regression), the
overlays, a site calibration (scipy.stats, ROC AUC) and the monitoring's binomial bounds run,
as the app runs them. A feature that starts using one of them fails here, not in a clinic."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pneumo_packaging.spec_rules import UNUSED_SUBPACKAGES
from tests.conftest import MODELS_DIR, REPO_ROOT

SCRIPT = """
import importlib, pkgutil, sys
import numpy as np
import pneumo_desktop
for module in pkgutil.walk_packages(pneumo_desktop.__path__, "pneumo_desktop."):
    if module.name not in ("pneumo_desktop.__main__",):
        importlib.import_module(module.name)
from pneumo_desktop.core import calibration, explain, monitoring, overlays
from pneumo_desktop.core.model import Classifier
from pneumo_desktop.core.results import OperatingPoint, ThresholdSource

classifier = Classifier()
film = classifier.prepare(np.random.default_rng(0).integers(0, 256, (300, 260), dtype=np.uint8))
lime = explain.lime_explanation(classifier, film, num_samples=40, batch_size=20)
overlays.lime_overlays(lime)
overlays.gradcam_rgba(explain.gradcam(classifier, film))
rng = np.random.default_rng(1)
films = calibration.LabelledScores.of(
    np.r_[rng.uniform(0.3, 1, 120), rng.uniform(0, 0.7, 80)], np.r_[np.ones(120), np.zeros(80)]
)
calibration.calibrate(films, OperatingPoint(0.5, 0.9, ThresholdSource.FACTORY))
monitoring.Baseline(0.5, 30, 100).expected_flagged(80)
calibration.Proportion(3, 10).interval
print(" ".join(sys.modules))
"""


@pytest.mark.skipif(not (MODELS_DIR / "cnn_deep_aug.card.json").is_file(), reason="no model")
def test_the_app_never_imports_what_the_bundle_leaves_out():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=REPO_ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(done.stdout.split())
    assert "lime.lime_image" in loaded and "sklearn.metrics" in loaded  # the features ran
    used = sorted(m for m in loaded if any(m == p or m.startswith(p + ".")
                                           for p in UNUSED_SUBPACKAGES))  # fmt: skip
    assert not used, f"the bundle leaves these out, but the app imports them: {used}"
