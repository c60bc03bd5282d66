"""pneumo_packaging.model_files: the bundle carries what the app reads, checked as it checks."""

from __future__ import annotations

import shutil

import pytest

from pneumo_packaging.model_files import bundled_model_files
from pneumo_packaging.project import BuildError
from tests.conftest import MODELS_DIR


def test_the_committed_model_is_bundled_without_training_artefacts():
    names = {path.name for path in bundled_model_files(MODELS_DIR)}
    assert {"cnn_deep_aug.card.json", "card.schema.json", "cnn_deep_aug.onnx",
            "cnn_deep_aug.heads.npz", "cnn_deep_aug.roc.png", "comparison.json"} <= names
    assert not {name for name in names if name.endswith((".keras", ".history.json", ".md"))}


def test_a_model_the_app_would_refuse_stops_the_build(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models, ignore=shutil.ignore_patterns("*.keras", "zoo"))
    graph = models / "cnn_deep_aug.onnx"
    data = bytearray(graph.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit: the sha256 in the card no longer matches
    graph.write_bytes(bytes(data))
    with pytest.raises(BuildError, match="would be refused by the app"):
        bundled_model_files(models)
