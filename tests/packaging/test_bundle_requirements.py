"""tools/build_installer.py: the build environment's requirements come from pyproject.toml."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO_ROOT


def _module():
    spec = importlib.util.spec_from_file_location(
        "build_installer", REPO_ROOT / "tools" / "build_installer.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_environment_has_onnxruntime_and_no_tensorflow():
    """The app runs the exported graph with onnxruntime; TensorFlow is the training extra's."""
    for platform in ("linux", "win32"):
        requirements = _module().build_requirements(REPO_ROOT / "pyproject.toml", platform)
        assert not [r for r in requirements if r.lower().startswith(("tensorflow", "keras"))]
        assert any(r.startswith("onnxruntime>=") for r in requirements)
        assert any(r.lower().startswith("pyinstaller") for r in requirements)
        assert any(r.startswith("PySide6-Essentials") for r in requirements)
