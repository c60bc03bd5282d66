"""The model files the bundle carries, checked as the app checks them at start-up."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .project import MODEL_NAME, BuildError

# What the About tab and the checksum check read: the model, its card, plots, comparison
# tables, head statistics. Not the training artefacts the app never opens.
MODEL_DATA_PATTERNS = ("*.keras", "*.json", "*.png", "*.md", "*.npz")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_model_files(models_dir: Path, model_name: str = MODEL_NAME) -> list[Path]:
    """The files of ``models_dir`` to bundle, after checking that the card is there and that
    the model file matches its sha256: the app would refuse the model at start-up, so the
    build stops instead of shipping it."""
    card_path = models_dir / f"{model_name}.card.json"
    if not card_path.is_file():
        raise BuildError(
            f"{card_path} not found: the installer must bundle the trained model. Train it "
            f"(python -m training train --model {model_name} --out models/) or point "
            "PNEUMO_BUNDLE_MODELS at a folder that holds it."
        )
    card = json.loads(card_path.read_text(encoding="utf-8"))
    model_file = models_dir / card["model_file"]
    if not model_file.is_file():
        raise BuildError(f"{model_file} (named by {card_path.name}) not found")
    if sha256_of(model_file) != card["sha256"]:
        raise BuildError(f"{model_file.name} does not match the sha256 in {card_path.name}")
    return sorted({path for pattern in MODEL_DATA_PATTERNS for path in models_dir.glob(pattern)})
