"""The installer: build.spec builds a bundle that starts, verifies its model and classifies.

Slow (a PyInstaller build of TensorFlow takes minutes): marked ``slow``; CI runs it. Builds the
way the README says, with ``tools/build_installer.py`` (its own environment with
``tensorflow-cpu`` on Linux, kept in ``build/installer-venv`` for the next run), into a temporary
folder from the repository's committed ``models/`` (``PNEUMO_BUNDLE_MODELS``
overrides it, as for build.spec). ``PNEUMO_INSTALLER_BUNDLE=dist/pneumo-desktop`` checks an
existing bundle instead of building one.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import MODELS_DIR, REPO_ROOT

pytestmark = pytest.mark.slow

APP = "pneumo-desktop"
EXE_SUFFIX = ".exe" if sys.platform.startswith("win") else ""
# The aim is a bundle under 1.2 GB; on Linux, with tensorflow-cpu, it is ~1.11 GB.
# Windows is not measured yet: there the limit only catches a runaway bundle.
MAX_BUNDLE_BYTES = int(1.2e9) if sys.platform.startswith("linux") else int(1.5 * 2**30)
BUILD_TIMEOUT_S = 45 * 60
RUN_TIMEOUT_S = 300
# Qt modules the app does not use; build.spec keeps them out. Matched against file names.
FORBIDDEN_QT = (
    "QtWebEngine",
    "Qt6WebEngine",
    "QtQml",
    "Qt6Qml",
    "Qt3D",
    "Qt63D",
    "QtQuick",
    "Qt6Quick",
)


def _app_env() -> dict[str, str]:
    """The environment of a clinic machine: headless Qt, no override of the bundled models."""
    env = dict(os.environ)
    env.pop("PNEUMO_MODELS_DIR", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=_app_env(), **kwargs
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    existing = os.environ.get("PNEUMO_INSTALLER_BUNDLE")
    if existing:
        return Path(existing).resolve()
    models = Path(os.environ.get("PNEUMO_BUNDLE_MODELS") or MODELS_DIR)
    if not (models / "cnn_deep_aug.card.json").is_file():
        pytest.fail(
            f"{models / 'cnn_deep_aug.card.json'} is missing: the installer bundles the trained "
            "model, so commit models/cnn_deep_aug.keras and its card (or set "
            "PNEUMO_BUNDLE_MODELS to a folder holding them)"
        )
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("build")
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "tools" / "build_installer.py"),
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "PNEUMO_BUNDLE_MODELS": str(models.resolve())},
    )
    print(f"\ninstaller build took {time.perf_counter() - started:.0f} s")
    shutil.rmtree(work, ignore_errors=True)  # ~1.5 GB of intermediate files
    assert done.returncode == 0, (
        f"the installer build failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    )
    return dist / APP


def _executable(bundle: Path, name: str = APP) -> Path:
    path = bundle / f"{name}{EXE_SUFFIX}"
    assert path.is_file(), f"{path} was not built"
    return path


def _bundle_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_self_test_passes(bundle):
    done = _run([str(_executable(bundle)), "--self-test"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test OK" in done.stdout, done.stdout + done.stderr
    assert "sha256 verified" in done.stdout


@pytest.mark.skipif(sys.platform.startswith("win"), reason="closes POSIX file descriptors")
def test_self_test_passes_without_stdout_and_stderr(bundle):
    """As a windowed build runs: sys.stdout and sys.stderr are None. Exit status only."""

    def close_std_streams():
        os.close(1)
        os.close(2)

    done = subprocess.run(
        [str(_executable(bundle)), "--self-test"],
        stdin=subprocess.DEVNULL,
        preexec_fn=close_std_streams,
        timeout=RUN_TIMEOUT_S,
        env=_app_env(),
    )
    assert done.returncode == 0


def test_window_opens_and_loads_the_model(bundle, tmp_path):
    db = tmp_path / "results.sqlite3"
    done = _run([str(_executable(bundle)), "--startup-time", "--db", str(db)])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "window visible after" in done.stdout, output
    assert "model loaded after" in done.stdout, output
    print(done.stdout.strip())


def test_scanner_executable_writes_a_csv_and_a_pdf_report(bundle, tmp_path):
    """pneumo-scan from the bundle: classification, an unreadable file, and the PDF report
    (matplotlib's PDF backend and Grad-CAM, frozen)."""
    folder = tmp_path / "films"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 260), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "film.png")
    (folder / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out, report = tmp_path / "results.csv", tmp_path / "night.pdf"
    scan = _executable(bundle, "pneumo-scan")
    done = _run([str(scan), str(folder), "--out", str(out), "--report", str(report)])
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    # Random noise is no chest film: the bundled model's not-an-X-ray head refuses it (with
    # a model that has no such head it gets a probability). Either way the model ran.
    film = rows["film.png"]
    if film["status"] == "not_xray":
        assert "does not look like a chest X-ray" in film["message"]
    else:
        assert film["status"] == "ok" and 0.0 <= float(film["probability"]) <= 1.0
    assert rows["broken.jpeg"]["status"] == "error"
    data = report.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


def test_bundle_holds_the_model_and_no_unused_qt(bundle):
    internal = bundle / "_internal"
    assert (internal / "models" / "cnn_deep_aug.card.json").is_file()
    assert (internal / "resources" / "pneumo_desktop.png").is_file()
    unwanted = sorted(
        str(p.relative_to(bundle))
        for p in bundle.rglob("*")
        if any(name in p.name for name in FORBIDDEN_QT)
    )
    assert not unwanted, f"unused Qt modules were bundled: {unwanted[:20]}"
    assert not list(internal.rglob("*tkinter*")), "tkinter was bundled"


def test_bundle_size(bundle):
    size = _bundle_bytes(bundle)
    print(f"\ninstaller bundle: {size / 2**30:.2f} GiB ({size / 2**20:.0f} MiB) in {bundle}")
    assert size < MAX_BUNDLE_BYTES, (
        f"bundle is {size / 1e9:.2f} GB, over the {MAX_BUNDLE_BYTES / 1e9:.2f} GB limit"
    )
