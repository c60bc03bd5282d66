"""pneumo_packaging.bundle: the build environment's requirements come from pyproject.toml."""

from __future__ import annotations

from pneumo_packaging.bundle import build_requirements
from tests.conftest import REPO_ROOT


def _named(requirements, name):
    return [r for r in requirements if r.lower().startswith(name.lower())]


def test_the_build_environment_has_the_app_s_dependencies_and_pyinstaller_only():
    """The app runs the exported graph with onnxruntime; TensorFlow is the training extra's,
    and neither it nor the test tools may reach the bundle through the build environment."""
    requirements = build_requirements(REPO_ROOT / "pyproject.toml")
    assert _named(requirements, "onnxruntime>=") and _named(requirements, "PySide6-Essentials")
    assert _named(requirements, "pyinstaller")
    for unwanted in ("tensorflow", "keras", "tf2onnx", "onnx>", "pytest", "ruff"):
        assert not _named(requirements, unwanted), unwanted
