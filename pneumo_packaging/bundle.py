"""Build the app folder (PyInstaller onedir) in a virtual environment of its own.

    python3 -m pneumo_packaging bundle            # -> dist/pneumo-desktop/

Why an environment of its own: it holds the app's dependencies and PyInstaller, nothing from
training or the tests (TensorFlow, pytest, …), so nothing they bring can slip into the bundle
through an optional import. The requirements come from ``pyproject.toml``, so the two
environments never drift apart.

Options: ``--venv DIR`` (default ``build/installer-venv``, reused between builds),
``--distpath``/``--workpath`` (passed to PyInstaller). The environment is made from the Python
that runs this. Environment variables of build.spec (``PNEUMO_BUNDLE_MODELS``,
``PNEUMO_NO_STRIP``) pass through.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from .project import APP_NAME, REPO_ROOT

IS_WINDOWS = sys.platform.startswith("win")
DEFAULT_VENV = REPO_ROOT / "build" / "installer-venv"


def build_requirements(pyproject: Path) -> list[str]:
    """The project's runtime dependencies plus its ``build`` extra (PyInstaller)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["build"]]


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def build_bundle(venv_dir: Path, distpath: Path, workpath: Path) -> Path:
    python = venv_python(venv_dir)
    if not python.exists():
        print(f"creating the build environment {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *build_requirements(REPO_ROOT / "pyproject.toml")], check=True)
    # The package itself; its dependencies are the ones just installed.
    subprocess.run([*pip, "--no-deps", "-e", str(REPO_ROOT)], check=True)
    command = [
        str(python), "-m", "PyInstaller", str(REPO_ROOT / "build.spec"), "--noconfirm",
        "--distpath", str(distpath), "--workpath", str(workpath),
    ]  # fmt: skip
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    print(f"built {distpath / APP_NAME}", flush=True)
    return distpath / APP_NAME
