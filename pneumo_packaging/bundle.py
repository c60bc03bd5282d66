"""Build the offline installer folder in its own virtual environment.

    python3 tools/build_installer.py            # -> dist/pneumo-desktop/

Why a separate environment: on Linux the ``tensorflow`` wheel carries CUDA kernels inside
``libtensorflow_cc`` (~0.4 GB after stripping) although the bundle leaves out the CUDA
libraries that would use them, so a clinic's CPU bundle built from it is ~1.45 GiB. The build
environment here installs ``tensorflow-cpu`` (same version range, same Python API) instead,
and the bundle is 1.03 GiB (1.11 GB, measured). On Windows and macOS ``tensorflow`` is
already the CPU build and is used as is. The project's other dependencies come from
``pyproject.toml``, so the two environments never drift apart.

Options: ``--venv DIR`` (default ``build/installer-venv``, reused between builds),
``--distpath``/``--workpath`` (passed to PyInstaller). The environment is made from the
Python that runs this script. Environment variables of build.spec
(``PNEUMO_BUNDLE_MODELS``, ``PNEUMO_NO_STRIP``) pass through.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
IS_WINDOWS = sys.platform.startswith("win")


def build_requirements(pyproject: Path, platform: str = sys.platform) -> list[str]:
    """The project's runtime dependencies plus its ``build`` extra, with ``tensorflow``
    swapped for ``tensorflow-cpu`` (same version range) on Linux."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = []
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["build"]]:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        if name.lower() == "tensorflow" and platform.startswith("linux"):
            requirement = "tensorflow-cpu" + requirement[len(name):]
        requirements.append(requirement)
    return requirements


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO_ROOT / "build" / "installer-venv")
    parser.add_argument("--distpath", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument("--workpath", type=Path, default=REPO_ROOT / "build" / "pyinstaller")
    args = parser.parse_args(argv)

    python = venv_python(args.venv)
    if not python.exists():
        print(f"creating the build environment {args.venv}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(args.venv)
    requirements = build_requirements(REPO_ROOT / "pyproject.toml")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *requirements], check=True)
    # The package itself, without its declared dependencies (they would pull `tensorflow`
    # back in beside `tensorflow-cpu`).
    subprocess.run([*pip, "--no-deps", "-e", str(REPO_ROOT)], check=True)
    command = [
        str(python), "-m", "PyInstaller", str(REPO_ROOT / "build.spec"), "--noconfirm",
        "--distpath", str(args.distpath), "--workpath", str(args.workpath),
    ]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    print(f"built {args.distpath / 'pneumo-desktop'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
