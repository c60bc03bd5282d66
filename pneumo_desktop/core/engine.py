"""onnxruntime over the exported graph (``python -m training export``): one session, the
execution provider in use, batched runs by output, and the dense head's weights.

**Providers.** CUDA on Linux (``pip install "pneumo-desktop[gpu]"``: onnxruntime-gpu), DirectML
on Windows (extra ``directml``), else the CPU; a GPU provider that is installed but cannot
start falls back to the CPU, and :attr:`OnnxEngine.notice` says so in one line.
``PNEUMO_PROVIDER=cpu`` forces the CPU.

**Threads.** Everything is built in ``__init__`` and never changes afterwards, and
onnxruntime's ``InferenceSession.run`` may be called from several threads at once, so one
engine may be shared. The app still gives the classifier a single inference thread: one run
already uses every core, and one caller is simpler to reason about.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .card import ModelChecksumError, ModelError, OnnxInfo, sha256_of

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
#: The GPU provider tried first on each platform (the extras install them).
GPU_PROVIDERS = {"linux": ("CUDAExecutionProvider",), "win32": ("DmlExecutionProvider",)}
DEVICE_NAMES = {"CUDAExecutionProvider": "GPU (CUDA)", "DmlExecutionProvider": "GPU (DirectML)",
                CPU: "CPU"}
PROVIDER_ENV = "PNEUMO_PROVIDER"


def choose_providers(available: list[str], platform: str = sys.platform,
                     force_cpu: bool = False) -> list[str]:
    """The providers to ask onnxruntime for, in order: this platform's GPU provider when it is
    installed, then the CPU (always there, and the fallback)."""
    gpu = [] if force_cpu else [p for p in GPU_PROVIDERS.get(platform, ()) if p in available]
    return [*gpu, CPU]


def provider_notice(requested: list[str], used: str, platform: str = sys.platform) -> str | None:
    """One line for the log and the status bar when the computation runs on the CPU."""
    if used != CPU:
        return None
    if requested[0] != CPU:
        return f"{requested[0]} could not start; computing on the CPU"
    gpu = GPU_PROVIDERS.get(platform)
    if gpu is None:
        return "no GPU provider for this platform; computing on the CPU"
    return f"no GPU provider installed ({gpu[0]}); computing on the CPU"


@dataclass(frozen=True)
class DenseLayer:
    kernel: np.ndarray  # (inputs, units)
    bias: np.ndarray
    activation: str


class DenseHead:
    """The network's dense layers after the pooled features, in numpy: the logit of
    pneumonia and its gradient with respect to the features (for Grad-CAM)."""

    def __init__(self, layers: list[DenseLayer]):
        hidden, last = layers[:-1], layers[-1]
        if any(layer.activation not in ("relu", "linear") for layer in hidden) or (
                last.activation != "sigmoid" or last.kernel.shape[1] != 1):
            raise ModelError("the model's head must be relu/linear dense layers and one "
                             "sigmoid unit")
        self.layers = layers

    def _hidden(self, features: np.ndarray) -> tuple[np.ndarray, list[np.ndarray | None]]:
        values, masks = np.asarray(features, dtype=np.float64), []
        for layer in self.layers[:-1]:
            values = values @ layer.kernel + layer.bias
            mask = values > 0 if layer.activation == "relu" else None
            values = np.where(mask, values, 0.0) if mask is not None else values
            masks.append(mask)
        return values, masks

    def logits(self, features: np.ndarray) -> np.ndarray:
        values, _ = self._hidden(features)
        last = self.layers[-1]
        return values @ last.kernel[:, 0] + last.bias[0]

    def logit_gradient(self, features: np.ndarray) -> np.ndarray:
        """d logit / d features, ``(N, F)``: back-propagated through the ReLUs."""
        features = np.asarray(features, dtype=np.float64)
        _, masks = self._hidden(features)
        gradient = np.tile(self.layers[-1].kernel[:, 0], (len(features), 1))
        for layer, mask in zip(reversed(self.layers[:-1]), reversed(masks), strict=True):
            if mask is not None:
                gradient = gradient * mask
            gradient = gradient @ layer.kernel.T
        return gradient


class EngineProtocol(Protocol):
    """What the classifier and the explanations ask of an engine (fakes implement this)."""

    provider: str
    device: str
    notice: str | None
    feature_map_layers: tuple[str, ...]
    head: DenseHead

    def classify_outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def logits(self, images: np.ndarray) -> np.ndarray: ...

    def gradcam_inputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                          np.ndarray | None]: ...

    def feature_maps(self, images: np.ndarray, layer: str) -> np.ndarray: ...


class OnnxEngine:
    """A verified ONNX graph in one onnxruntime session. Inputs are ``(N, size, size,
    channels)`` float32 pixels in 0..255; every method runs in batches of ``batch_size``."""

    def __init__(self, info: OnnxInfo, *, verify_checksum: bool = True, batch_size: int = 32):
        import onnxruntime as ort

        path = info.path
        if not path.is_file():
            raise ModelError(f"model graph not found: {path}")
        if verify_checksum and sha256_of(path) != info.sha256:
            raise ModelChecksumError(
                f"{path.name} does not match its model card: the file was changed or damaged; "
                "reinstall the application")
        self.info, self.batch_size = info, batch_size
        force_cpu = os.environ.get(PROVIDER_ENV, "").lower() == "cpu"
        requested = choose_providers(ort.get_available_providers(), force_cpu=force_cpu)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # our one-line notice, not onnxruntime's warnings
        try:
            self.session = ort.InferenceSession(str(path), options, providers=requested)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load {path.name}: {error}") from None
        outputs = {output.name for output in self.session.get_outputs()}
        missing = sorted(info.output_names - outputs)
        inputs = [i.name for i in self.session.get_inputs()]
        if missing or inputs != [info.input]:
            raise ModelError(f"{path.name} does not match its model card (the card names "
                             f"outputs {missing} and input {info.input!r} the graph lacks): "
                             "reinstall the application")
        self.provider = self.session.get_providers()[0]
        self.device = DEVICE_NAMES.get(self.provider, self.provider)
        self.notice = provider_notice(requested, self.provider)
        if self.notice:
            log.info("%s", self.notice)
        self.feature_map_layers = tuple(layer for layer, _ in info.feature_maps)
        self._map_outputs = dict(info.feature_maps)
        self.head = self._read_head()

    def _read_head(self) -> DenseHead:
        """The head's weights are constant outputs of the graph: one run (the warm-up)
        fetches them."""
        shape = self.session.get_inputs()[0].shape
        probe = np.zeros((1, *(int(d) for d in shape[1:])), np.float32)
        names = [name for layer in self.info.head for name in (layer.kernel, layer.bias)]
        values = iter(self.session.run(names, {self.info.input: probe}))
        return DenseHead([DenseLayer(np.asarray(next(values), np.float64),
                                     np.asarray(next(values), np.float64), layer.activation)
                          for layer in self.info.head])

    def run(self, images: np.ndarray, names: list[str]) -> list[np.ndarray]:
        """The named outputs for ``images``, concatenated over batches."""
        images = np.asarray(images, dtype=np.float32)
        chunks: list[list[np.ndarray]] = [[] for _ in names]
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            for chunk, value in zip(chunks, self.session.run(names, {self.info.input: batch}),
                                    strict=True):
                chunk.append(value)
        return [np.concatenate(chunk) if chunk else np.zeros((0,), np.float32)
                for chunk in chunks]

    def classify_outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(pneumonia) ``(N,)`` and the pooled features ``(N, F)`` from one pass."""
        probabilities, features = self.run(images, [self.info.probability, self.info.features])
        return probabilities.reshape(-1), features

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.run(images, [self.info.logit])[0].reshape(-1).astype(np.float64)

    def gradcam_inputs(self, images: np.ndarray):
        """The last rectified map ``(N, h, w, c)``, the features ``(N, F)`` and the frame box
        ``(N, 4)`` (None when the model has no framing layer)."""
        names = [self.info.gradcam_map, self.info.features]
        if self.info.frame_box:
            names.append(self.info.frame_box)
        values = self.run(images, names)
        return values[0], values[1], values[2] if self.info.frame_box else None

    def feature_maps(self, images: np.ndarray, layer: str) -> np.ndarray:
        if layer not in self._map_outputs:
            raise KeyError(f"no feature maps for layer {layer!r}; the model has "
                           f"{', '.join(self.feature_map_layers)}")
        return self.run(images, [self._map_outputs[layer]])[0]
