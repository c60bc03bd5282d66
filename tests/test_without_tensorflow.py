"""The app and pneumo-scan run with TensorFlow, Keras and tf2onnx unimportable: the app runs
the exported graph with onnxruntime; TensorFlow is for training only."""

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import MODELS_DIR, synthetic_xray

REPO_ROOT = Path(__file__).resolve().parents[1]

# A sitecustomize on PYTHONPATH runs before anything else in the child interpreter.
BLOCKER = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras"):
                raise ImportError(f"{name} is blocked: the app must run without it")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    """
)


@pytest.fixture(scope="module")
def blocked(tmp_path_factory):
    """Run ``python -m ...`` with TensorFlow unimportable; returns a runner."""
    root = tmp_path_factory.mktemp("no_tensorflow")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "site"), str(REPO_ROOT)]),
               QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(root / "data"),
               XDG_CONFIG_HOME=str(root / "config"), PNEUMO_LOG_DIR=str(root / "logs"),
               PNEUMO_MODELS_DIR=str(MODELS_DIR))

    def run(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return run


def test_the_blocker_blocks(blocked):
    done = blocked("-c", "import tensorflow")
    assert done.returncode != 0 and "tensorflow is blocked" in done.stderr
    done = blocked("-c", "import keras")
    assert done.returncode != 0 and "keras is blocked" in done.stderr


def test_self_test_runs_without_tensorflow(blocked):
    done = blocked("-m", "pneumo_desktop.app", "--self-test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test OK: model cnn_deep_aug" in done.stdout
    assert "(CPUExecutionProvider)" in done.stdout or "ExecutionProvider)" in done.stdout


def test_a_scan_with_its_pdf_report_runs_without_tensorflow(blocked, tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    rng = np.random.default_rng(7)
    for index in range(4):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0, size=256)).save(
            films / f"{index}.png")
    (films / "broken.jpeg").write_bytes(b"not a jpeg")
    out, report = tmp_path / "out.csv", tmp_path / "scan.pdf"
    done = blocked("-m", "pneumo_desktop.cli", str(films), "--out", str(out),
                   "--report", str(report))
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("pneumo-scan: model cnn_deep_aug") and "ExecutionProvider" in first
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 and sum(row["status"] == "error" for row in rows) == 1
    assert report.stat().st_size > 10_000


def test_explanations_run_without_tensorflow(blocked):
    script = textwrap.dedent(
        """
        import numpy as np
        from pneumo_desktop.core import explain
        from pneumo_desktop.core.model import Classifier

        classifier = Classifier()
        pixels = np.random.default_rng(0).integers(0, 256, (300, 260), dtype=np.uint8)
        film = classifier.prepare(pixels)
        cam = explain.gradcam(classifier, film)
        lime = explain.lime_explanation(classifier, film, num_samples=40, batch_size=20)
        layer = explain.feature_map_layers(classifier)[0]
        maps = explain.feature_maps(classifier, film, layer)
        print("ok", cam.shape, lime.heatmap().shape, maps.ndim)
        """
    )
    done = blocked("-c", script)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok (224, 224) (224, 224) 3" in done.stdout


def test_the_desktop_app_starts_and_loads_the_model_without_tensorflow(blocked):
    done = blocked("-m", "pneumo_desktop.app", "--startup-time")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "window visible after" in done.stdout and "model loaded after" in done.stdout
