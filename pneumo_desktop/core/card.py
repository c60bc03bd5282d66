"""The model card: the typed, versioned contract between the training package and the app.

``<name>.card.json`` sits beside the model files. :meth:`ModelCard.load` validates it against
``models/card.schema.json`` (the same file the training package validates against when it
writes a card) and refuses a card that does not match, naming the field
("model card …: threshold.value must be a number"). Readers use the typed accessors below,
never dict paths, so a renamed or missing field fails here, once, instead of somewhere in a
widget.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path

from .card_types import (
    ChangelogEntry,
    ConfusionMatrix,
    Counts,
    HeadLayer,
    HeadsInfo,
    InputSpec,
    Metrics,
    OnnxInfo,
    Point,
    SplitDescription,
    StressRow,
    SubtypeMetrics,
    Thresholds,
    TrainingInfo,
)

__all__ = ["CARD_SCHEMA", "InputSpec", "Metrics", "ModelCard", "ModelChecksumError",
           "ModelError", "OnnxInfo", "Point", "card_path", "sha256_of", "validate_card"]

#: The card format this app reads (``card_schema`` in the card and in the schema file).
CARD_SCHEMA = 1
SCHEMA_FILE = "card.schema.json"


class ModelError(Exception):
    """The model or its card is missing, unreadable, invalid or fails its checksum."""


class ModelChecksumError(ModelError):
    pass


def sha256_of(path: Path) -> str:
    # training/io.py has the same function on purpose: the app and the training package share
    # no code, only the files in models/ (an import-linter contract keeps it so).
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}.card.json"


def schema_path() -> Path:
    """The schema shipped with the app: the installer's ``models/`` or the checkout's. Not
    the models folder being loaded: a card is checked against what *this* app can read."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parents[2]
    return root / "models" / SCHEMA_FILE


@functools.cache
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


_TYPE_WORDS = {"number": "a number", "integer": "an integer", "string": "a string",
               "object": "an object", "array": "a list", "boolean": "true or false",
               "null": "null"}


def describe_error(error) -> str:
    """A jsonschema error as one sentence that names the field: ``threshold.value must be a
    number``, ``heads.sha256 is missing``."""
    field = ".".join(str(part) for part in error.absolute_path)
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = next(key for key in expected if key not in error.instance)
        return f"{field + '.' if field else ''}{missing} is missing"
    field = field or "the card"
    if kind == "type":
        words = [_TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str)
                                                  else expected)]
        return f"{field} must be {' or '.join(words)}"
    if kind in ("minimum", "maximum"):
        return f"{field} must be {'at least' if kind == 'minimum' else 'at most'} {expected}"
    if kind in ("minItems", "minLength"):
        return f"{field} must not be empty" if expected == 1 else f"{field} is too short"
    if kind == "const":
        return f"{field} must be {json.dumps(expected)}"
    if kind == "enum":
        return f"{field} must be one of {', '.join(json.dumps(v) for v in expected)}"
    if kind == "pattern":
        return f"{field} is malformed ({error.instance!r} does not match {expected})"
    return f"{field}: {error.message}"


def validate_card(data: object, source: str) -> None:
    """Raise :class:`ModelError` naming the first field of ``data`` that breaks the schema."""
    from jsonschema.exceptions import best_match

    if not isinstance(data, dict):
        raise ModelError(f"model card {source}: not a JSON object")
    version = data.get("card_schema")
    if isinstance(version, int) and version > CARD_SCHEMA:
        raise ModelError(f"model card {source}: card_schema {version} is newer than this "
                         f"application reads ({CARD_SCHEMA}); update the application")
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        raise ModelError(f"model card {source}: {describe_error(error)}")


def _metrics(values: dict) -> Metrics:
    matrix = values["confusion_matrix"]
    return Metrics(
        accuracy=values["accuracy"], sensitivity=values["sensitivity"],
        specificity=values["specificity"], precision=values["precision"], f1=values["f1"],
        roc_auc=values["roc_auc"], threshold=values["threshold"], n=values["n"],
        confusion=ConfusionMatrix(matrix["tn"], matrix["fp"], matrix["fn"], matrix["tp"]),
        recall_bacteria=values.get("recall_bacteria"), recall_virus=values.get("recall_virus"),
    )


def _subtype(values: dict) -> SubtypeMetrics:
    return SubtypeMetrics(values["n"], values["accuracy"], values["recall_bacteria"],
                          values["recall_virus"], values["roc_auc"])


class ModelCard:
    """A validated card. Construct with :meth:`load`; every accessor is typed."""

    def __init__(self, path: Path, data: dict):
        self.path = Path(path)
        self._data = data

    @classmethod
    def load(cls, path: Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"model card not found: {path}") from None
        except (OSError, ValueError) as error:
            raise ModelError(f"model card {path} is unreadable: {error}") from None
        validate_card(data, str(path))
        return cls(path, data)

    # Identity and files -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._data["name"]

    @property
    def version(self) -> str:
        return self._data["version"]

    @property
    def sha256(self) -> str:
        """The sha256 of the Keras model file (the training artefact)."""
        return self._data["sha256"]

    @property
    def model_path(self) -> Path:
        return self.path.parent / self._data["model_file"]

    @property
    def parameters(self) -> int:
        return self._data["parameters"]

    @property
    def libraries(self) -> dict[str, str]:
        return dict(self._data["libraries"])

    @property
    def intended_use(self) -> str:
        return self._data["intended_use"]

    @property
    def citation(self) -> str:
        return self._data["dataset_citation"]

    @property
    def changelog(self) -> tuple[ChangelogEntry, ...]:
        return tuple(ChangelogEntry(e["version"], e["date"], e["changes"])
                     for e in self._data["changelog"])

    # Input and thresholds -----------------------------------------------------------------
    @property
    def input_spec(self) -> InputSpec:
        spec = self._data["input"]
        return InputSpec(spec["height"], spec["channels"], spec["equalize"] == "histogram",
                         spec["color"], spec["preprocessing"])

    @property
    def thresholds(self) -> Thresholds:
        threshold = self._data["threshold"]
        likely = threshold["likely"]
        return Thresholds(threshold["value"], threshold["rule"], threshold["chosen_on"],
                          likely["value"], likely["rule"], self._data["output"]["decision"])

    @property
    def threshold(self) -> float:
        """The operating threshold, chosen on validation for sensitivity."""
        return float(self._data["threshold"]["value"])

    @property
    def likely_threshold(self) -> float:
        """The upper, high-specificity threshold of the ``likely`` band."""
        return float(self._data["threshold"]["likely"]["value"])

    # Evidence -----------------------------------------------------------------------------
    def metrics(self, split: str, point: Point) -> Metrics:
        """``split`` is "validation" or "test"."""
        return _metrics(self._data["metrics"][split][point])

    def counts(self, split: str) -> Counts:
        """``split`` is "train", "validation" or "test"."""
        values = self._data["data"][split]
        return Counts(values["total"], values["patients"], values["normal"],
                      values["bacteria"], values["virus"])

    @property
    def split(self) -> SplitDescription:
        data = self._data["data"]
        return SplitDescription(data["split"], data["split_seed"], data["validation_fraction"])

    @property
    def training(self) -> TrainingInfo:
        info = self._data["training"]
        return TrainingInfo(self._data["created"], info["seconds"], info["epochs_run"],
                            info["best_epoch"], info["device"])

    @property
    def stress_films(self) -> int | None:
        stress = self._data.get("stress")
        return stress["validation_images"] if stress else None

    @property
    def stress_rows(self) -> tuple[StressRow, ...]:
        stress = self._data.get("stress") or {"shifts": {}}
        return tuple(StressRow(name, row["normals_flagged"], row["pneumonia_caught"])
                     for name, row in stress["shifts"].items())

    def plot_path(self, kind: str) -> Path:
        """``kind``: "roc", "confusion_matrix" or "learning_curves" (may not exist on disk)."""
        name = self._data["plots"].get(kind) or f"{self.name}.{kind}.png"
        return self.path.parent / name

    # Sections the engine reads -------------------------------------------------------------
    @property
    def heads(self) -> HeadsInfo | None:
        heads = self._data.get("heads")
        if heads is None:
            return None
        subtype = heads["subtype"]
        return HeadsInfo(self.path.parent / heads["file"], heads["sha256"],
                         heads["feature_layer"], heads["not_xray"]["threshold"],
                         heads["not_xray"]["rule"], _subtype(subtype["validation"]),
                         _subtype(subtype["test"]))

    @property
    def onnx(self) -> OnnxInfo | None:
        info = self._data.get("onnx")
        if info is None:
            return None
        outputs = info["outputs"]
        return OnnxInfo(
            self.path.parent / info["file"], info["sha256"], info["opset"],
            info["source_sha256"], info["input"], outputs["probability"], outputs["logit"],
            outputs["features"], outputs["gradcam_map"],
            tuple((entry["layer"], entry["output"]) for entry in outputs["feature_maps"]),
            outputs["frame_box"],
            tuple(HeadLayer(h["layer"], h["activation"], h["kernel"], h["bias"])
                  for h in info["head"]),
        )
