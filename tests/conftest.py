"""Shared fixtures: real-data location, tiny synthetic data sets, a tiny trained model."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Logs of the programs the tests start go here, never to the developer's own log folder.
if "PNEUMO_LOG_DIR" not in os.environ:
    os.environ["PNEUMO_LOG_DIR"] = tempfile.mkdtemp(prefix="pneumo-test-logs-")
    atexit.register(shutil.rmtree, os.environ["PNEUMO_LOG_DIR"], ignore_errors=True)

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "models"
DATA_DIR = Path(os.environ.get("PNEUMO_DATA_DIR", REPO_ROOT / "../shared/data/chest_xray"))


def real_data_dir() -> Path:
    """The real chest X-rays, or skip the test with the reason."""
    if not (DATA_DIR / "test" / "NORMAL").is_dir():
        pytest.skip(f"real X-rays not found at {DATA_DIR}: set PNEUMO_DATA_DIR")
    return DATA_DIR


def synthetic_xray(rng: np.random.Generator, pneumonia: bool, size: int = 64) -> np.ndarray:
    """A grey film-like picture: two dark lung fields, and for 'pneumonia' a bright patch in one
    of them. Enough for a tiny model to learn something in seconds."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = 170 + 30 * rng.standard_normal((size, size))
    for centre in (0.3, 0.7):
        lung = ((xx - centre) / 0.16) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1
        image[lung] -= 90
    if pneumonia:
        cx, cy = rng.choice([0.3, 0.7]), rng.uniform(0.4, 0.6)
        patch = ((xx - cx) / 0.1) ** 2 + ((yy - cy) / 0.12) ** 2 < 1
        image[patch] += 80
    return np.clip(image, 0, 255).astype(np.uint8)


def write_kaggle_layout(root: Path, per_class: int = 12, seed: int = 0) -> Path:
    """train/test x NORMAL/PNEUMONIA with Kaggle-style names (several images per patient)."""
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for index in range(per_class):
                patient = index // 2 + (100 if split == "test" else 0)
                if label == "NORMAL":
                    name = f"IM-{patient:04d}-{index:04d}.jpeg"
                else:
                    kind = "bacteria" if index % 3 else "virus"
                    name = f"person{patient}_{kind}_{index}.jpeg"
                pixels = synthetic_xray(rng, label == "PNEUMONIA")
                Image.fromarray(pixels).convert("RGB").save(folder / name, quality=90)
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_kaggle_layout(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory, tiny_data_dir) -> Path:
    """A cnn_deep_aug trained for two epochs on the tiny set, with its card: the real training
    code path, in seconds."""
    from training.config import config_for
    from training.train import train

    out = tmp_path_factory.mktemp("tiny_models")
    config = config_for(
        "cnn_deep_aug", data_dir=tiny_data_dir, out_dir=out, epochs=2, batch_size=8
    )
    train(config, log=lambda message: None)
    return out


@pytest.fixture(scope="session")
def tiny_classifier(tiny_models_dir):
    from pneumo_desktop.core.model import Classifier

    return Classifier(tiny_models_dir)


@pytest.fixture(autouse=True)
def _private_site_profile(monkeypatch, tmp_path_factory):
    """No test reads or writes the developer's own site profile (``pneumo-scan`` applies the
    user's profile when there is one)."""
    folder = tmp_path_factory.mktemp("site_profile")
    monkeypatch.setenv("PNEUMO_SITE_PROFILE", str(folder / "site_profile.json"))


@pytest.fixture(autouse=True)
def _private_results_db(monkeypatch, tmp_path_factory):
    """Nor the developer's results database (``pneumo-calibrate --apply`` audits there)."""
    folder = tmp_path_factory.mktemp("results_db")
    monkeypatch.setenv("PNEUMO_DB", str(folder / "results.sqlite3"))
