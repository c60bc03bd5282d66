"""The typed sections of a model card (:class:`~pneumo_desktop.core.card.ModelCard` builds
them from a validated card)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


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
class Rates:
    """The test-set rates every report of a model's performance carries."""

    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    roc_auc: float | None


@dataclass(frozen=True)
class Metrics(Rates):
    threshold: float
    n: int
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
