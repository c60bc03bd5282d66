"""Fixtures of the packaging tests: a real X server (Xvfb), the built bundle, the .deb.

Tools the machine may lack (Xvfb, makensis, unshare, root for dpkg) make a test skip with the
reason on a developer's machine, and fail under CI (``CI=true``), whose ``.ci/run`` installs
them: a check that silently skipped in CI would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MODELS_DIR, REPO_ROOT

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
APP = "pneumo-desktop"
BUILD_TIMEOUT_S = 30 * 60
RUN_TIMEOUT_S = 300


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when ``condition`` is false; under CI, fail instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must run this test, but {reason}")
        pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} not found (sudo apt-get install {package})")
    return path


def app_env(**overrides: str) -> dict[str, str]:
    """The environment of a clinic machine: no override of the bundled models, no log or
    settings of the developer's (HOME is the caller's choice through overrides)."""
    env = dict(os.environ)
    for name in ("PNEUMO_MODELS_DIR", "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def xvfb_display(tmp_path_factory):
    """A virtual X server (``:N``) for the session: the app on the real xcb platform."""
    xvfb = require_tool("Xvfb", "xvfb")
    read_fd, write_fd = os.pipe()
    log = open(tmp_path_factory.mktemp("xvfb") / "xvfb.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
        pass_fds=(write_fd,),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        number = numbers.readline().strip()  # Xvfb writes the display number once it is ready
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start: see its log")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    """The app folder, built as the README says (``python3 -m pneumo_packaging bundle``, in its
    own environment, reused from ``build/installer-venv``), from the committed models/
    (``PNEUMO_BUNDLE_MODELS`` overrides them). ``PNEUMO_INSTALLER_BUNDLE=dist/pneumo-desktop``
    tests an existing folder instead."""
    existing = os.environ.get("PNEUMO_INSTALLER_BUNDLE")
    if existing:
        return Path(existing).resolve()
    models = Path(os.environ.get("PNEUMO_BUNDLE_MODELS") or MODELS_DIR).resolve()
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("build")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pneumo_packaging", "bundle", "--distpath", str(dist),
         "--workpath", str(work)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "PNEUMO_BUNDLE_MODELS": str(models)},
    )  # fmt: skip
    print(f"\nbundle build took {time.perf_counter() - started:.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    assert done.returncode == 0, f"build failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    return dist / APP


@pytest.fixture(scope="session")
def deb_package(bundle, tmp_path_factory) -> Path:
    require_tool("dpkg-shlibdeps", "dpkg-dev")
    from pneumo_packaging.deb import build_deb

    return build_deb(bundle, tmp_path_factory.mktemp("deb"))
