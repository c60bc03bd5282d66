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
import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

#: The card format this app reads (``card_schema`` in the card and in the schema file).
CARD_SCHEMA = 1
SCHEMA_FILE = "card.schema.json"


class ModelError(Exception):
    """The model or its card is missing, unreadable, invalid or fails its checksum."""


class ModelChecksumError(ModelError):
    pass


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


class Point(StrEnum):
    """The thresholds the card reports metrics at."""

    AT_05 = "at_0.5"
    OPERATING = "at_operating_threshold"
    LIKELY = "at_likely_threshold"


@dataclass(frozen=True)
class InputSpec:
    """What the model takes: ``size``×``size`` grey (or grey-replicated RGB) pixels in 0..255,
    histogram-equalised first when ``equalize``."""

    size: int
    channels: int
    equalize: bool
    color: str
    preprocessing: str


@dataclass(frozen=True)
class ConfusionMatrix:
    tn: int
    fp: int
    fn: int
    tp: int


@dataclass(frozen=True)
class Metrics:
    threshold: float
    n: int
    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    roc_auc: float | None
    confusion: ConfusionMatrix
    recall_bacteria: float | None
    recall_virus: float | None


@dataclass(frozen=True)
class Counts:
    total: int
    patients: int
    normal: int
    bacteria: int
    virus: int


@dataclass(frozen=True)
class SplitDescription:
    method: str  # "patient", "patient_earliest", "patient_earliest_series" or "image"
    seed: int
    validation_fraction: float


@dataclass(frozen=True)
class Thresholds:
    operating: float
    operating_rule: str
    chosen_on: str
    likely: float  # the upper, high-specificity threshold of the "likely" band
    likely_rule: str
    decision: str


@dataclass(frozen=True)
class TrainingInfo:
    created: str
    seconds: float
    epochs_run: int
    best_epoch: int
    device: str


@dataclass(frozen=True)
class StressRow:
    change: str
    normals_flagged: float | None
    pneumonia_caught: float | None


@dataclass(frozen=True)
class SubtypeMetrics:
    n: int
    accuracy: float
    recall_bacteria: float
    recall_virus: float
    roc_auc: float | None


@dataclass(frozen=True)
class HeadsInfo:
    path: Path
    sha256: str
    feature_layer: str
    ood_threshold: float
    ood_rule: str
    subtype_validation: SubtypeMetrics
    subtype_test: SubtypeMetrics


@dataclass(frozen=True)
class HeadLayer:
    """One dense layer of the network's head, whose weights the ONNX graph outputs."""

    layer: str
    activation: str  # "relu", "linear" or "sigmoid"
    kernel: str  # output names in the ONNX graph
    bias: str


@dataclass(frozen=True)
class OnnxInfo:
    """The exported graph and the names of its outputs."""

    path: Path
    sha256: str
    opset: int
    source_sha256: str  # the sha256 of the Keras model it was exported from
    input: str
    probability: str
    logit: str
    features: str
    gradcam_map: str
    feature_maps: tuple[tuple[str, str], ...]  # (layer, output name), input to output
    frame_box: str | None
    head: tuple[HeadLayer, ...]

    @property
    def output_names(self) -> set[str]:
        names = {self.probability, self.logit, self.features, self.gradcam_map}
        names |= {output for _, output in self.feature_maps}
        names |= {name for layer in self.head for name in (layer.kernel, layer.bias)}
        return names | ({self.frame_box} if self.frame_box else set())


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    date: str
    changes: str


def _metrics(values: dict) -> Metrics:
    matrix = values["confusion_matrix"]
    return Metrics(
        values["threshold"], values["n"], values["accuracy"], values["sensitivity"],
        values["specificity"], values["precision"], values["f1"], values["roc_auc"],
        ConfusionMatrix(matrix["tn"], matrix["fp"], matrix["fn"], matrix["tp"]),
        values.get("recall_bacteria"), values.get("recall_virus"),
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


@dataclass(frozen=True)
class ComparisonRow:
    model: str
    split: str
    threshold: float
    threshold_rule: str
    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    roc_auc: float | None
    stress_specificity: float | None
    train_minutes: float
    epochs: int


@dataclass(frozen=True)
class Comparison:
    rows: tuple[ComparisonRow, ...]
    notes: tuple[str, ...]


def load_comparison(models_dir: Path) -> Comparison:
    """``comparison.json`` of ``python -m training compare``: every trained model on test.
    Raises FileNotFoundError, or ValueError when the file is unreadable."""
    path = Path(models_dir) / "comparison.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = tuple(
            ComparisonRow(**{key: row.get(key) for key in ComparisonRow.__dataclass_fields__})
            for row in data["models"]
        )
        notes = tuple(str(note) for note in data.get("notes", []))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{type(error).__name__}: {error}") from None
    return Comparison(rows, notes)
