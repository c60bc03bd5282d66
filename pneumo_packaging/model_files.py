"""The model files the bundle carries, checked as the app checks them at start-up."""

from __future__ import annotations

from pathlib import Path

from .project import MODEL_NAME, BuildError

PLOTS = ("roc", "confusion_matrix", "learning_curves")
COMPARISON = "comparison.json"  # the About tab's table of every trained model


def bundled_model_files(models_dir: Path, model_name: str = MODEL_NAME) -> list[Path]:
    """What the app reads from ``models/``: the card and the schema it is checked against,
    the ONNX graph, the heads, the card's plots and the model comparison. Not the Keras file
    (the training artefact: the app never opens it) nor training histories.

    The model is loaded with the app's own ``Classifier`` first (card schema, sha256 of the
    graph and the heads, export source): the app would refuse a model that fails, so the
    build stops instead of shipping it."""
    from pneumo_desktop.core.card import ModelError, schema_path
    from pneumo_desktop.core.model import Classifier

    try:
        card = Classifier(models_dir, model_name).card
    except ModelError as error:
        raise BuildError(
            f"the model in {models_dir} would be refused by the app: {error}. Train and export "
            f"it (python -m training train --model {model_name} --out models/) or point "
            "PNEUMO_BUNDLE_MODELS at a folder that holds it."
        ) from None
    files = [card.path, schema_path(), card.onnx.path]
    if card.heads is not None:
        files.append(card.heads.path)
    files += [path for path in map(card.plot_path, PLOTS) if path.is_file()]
    if (models_dir / COMPARISON).is_file():
        files.append(models_dir / COMPARISON)
    return files
