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


def test_linux_build_swaps_tensorflow_for_tensorflow_cpu_in_the_same_range():
    requirements = _module().build_requirements(REPO_ROOT / "pyproject.toml", "linux")
    tensorflow = [r for r in requirements if r.lower().startswith("tensorflow")]
    assert len(tensorflow) == 1 and tensorflow[0].startswith("tensorflow-cpu>=")
    assert any(r.lower().startswith("pyinstaller") for r in requirements)
    assert any(r.startswith("PySide6-Essentials") for r in requirements)


def test_windows_build_keeps_tensorflow_which_is_the_cpu_build_there():
    requirements = _module().build_requirements(REPO_ROOT / "pyproject.toml", "win32")
    assert [r for r in requirements if r.lower().startswith("tensorflow")][0].startswith(
        "tensorflow>="
    )
