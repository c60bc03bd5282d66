"""The built app folder and its Linux installers: the frozen app starts, verifies its model,
classifies, opens its window on X11, names a missing system library, and the .deb installs,
runs and uninstalls without a trace.

Slow (a PyInstaller build takes minutes): marked ``slow``. The README's test command runs every
test, so CI runs these (its ``.ci/run`` installs Xvfb, dpkg-dev and runs as root). The bundle is
built once per session (tests/packaging/conftest.py).
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.platform_check import PLATFORM_UNAVAILABLE_EXIT, system_packages
from pneumo_packaging.deb import glibc_floor_of
from pneumo_packaging.elf import version_key
from pneumo_packaging.spec_rules import SYSTEM_LIBRARIES
from tests.conftest import DATA_DIR, REPO_ROOT, synthetic_xray
from tests.packaging.conftest import APP, RUN_TIMEOUT_S, app_env, require, require_tool
from tests.packaging.test_platform_check import hidden_xcb_cursor_run

pytestmark = pytest.mark.slow

IS_LINUX = sys.platform.startswith("linux")
EXE_SUFFIX = ".exe" if sys.platform.startswith("win") else ""
# Issue 11's must: the Linux app folder at most 300 MB (1.1 GB with TensorFlow; aim 200 MB).
# Not met yet: 343 MB, of which SciPy with its own OpenBLAS is ~70 MB and scikit-learn with
# scikit-image ~22 MB: the calibration's statistics and ROC, LIME and its superpixels import
# them (the parts they never import are left out: spec_rules.UNUSED_SUBPACKAGES).
ISSUE_LIMIT_BYTES = int(300e6)
# Meanwhile, a guard against growth (TensorFlow creeping back would add ~0.8 GB, Qt's
# WebEngine ~0.2 GB, the full ICU data 27 MB): 343 MB measured. Windows is not measured yet:
# there the limit only catches a runaway bundle.
GUARD_BYTES = int(370e6) if IS_LINUX else int(700e6)
# Qt modules the app does not use; build.spec keeps them out. Matched against file names.
FORBIDDEN_QT = ("QtWebEngine", "Qt6WebEngine", "QtQml", "Qt6Qml", "Qt3D", "Qt63D", "QtQuick",
                "Qt6Quick", "Qt6Pdf")  # fmt: skip


def _run(command, tmp_path, **env):
    return subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=tmp_path,
        env=app_env(HOME=str(tmp_path), **({"QT_QPA_PLATFORM": "offscreen"} | env)),
    )


def _executable(bundle: Path, name: str = APP) -> Path:
    path = bundle / f"{name}{EXE_SUFFIX}"
    assert path.is_file(), f"{path} was not built"
    return path


def _bundle_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _assert_self_test(done):
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test OK" in done.stdout, done.stdout + done.stderr
    assert "sha256 verified" in done.stdout


def test_self_test_passes(bundle, tmp_path):
    _assert_self_test(_run([_executable(bundle), "--self-test"], tmp_path))


@pytest.mark.skipif(not IS_LINUX, reason="closes POSIX file descriptors")
def test_self_test_passes_without_stdout_and_stderr(bundle, tmp_path):
    """As a program started from the menu runs: no terminal. The exit status tells."""

    def close_std_streams():
        os.close(1)
        os.close(2)

    done = subprocess.run(
        [str(_executable(bundle)), "--self-test"],
        stdin=subprocess.DEVNULL,
        preexec_fn=close_std_streams,
        timeout=RUN_TIMEOUT_S,
        env=app_env(HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen"),
    )
    assert done.returncode == 0


@pytest.mark.skipif(not IS_LINUX, reason="X11")
def test_window_opens_on_a_real_x_server(bundle, xvfb_display, tmp_path):
    """The frozen app on Xvfb with the xcb platform, as on a clinic's desktop: its xcb plugin
    and the system libraries it links load (Qt would abort otherwise), the window shows and
    the model loads."""
    done = _run(
        [_executable(bundle), "--startup-time", "--db", tmp_path / "results.sqlite3"],
        tmp_path,
        DISPLAY=xvfb_display,
        QT_QPA_PLATFORM="xcb",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "window visible after" in done.stdout and "model loaded after" in done.stdout, output
    print(done.stdout.strip())


@pytest.mark.skipif(not IS_LINUX, reason="Linux system libraries")
def test_a_missing_system_library_is_named_not_a_crash(bundle, tmp_path):
    done = hidden_xcb_cursor_run([str(_executable(bundle))], tmp_path)
    assert done.returncode == PLATFORM_UNAVAILABLE_EXIT, done.stdout + done.stderr
    assert "sudo apt-get install libxcb-cursor0" in done.stderr


def test_scanner_writes_a_csv_and_a_pdf_report(bundle, tmp_path):
    """pneumo-scan from the bundle: classification, an unreadable file, and the PDF report
    (matplotlib's PDF backend and Grad-CAM, frozen)."""
    folder = tmp_path / "films"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 260), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "film.png")
    (folder / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out, report = tmp_path / "results.csv", tmp_path / "night.pdf"
    done = _run([_executable(bundle, "pneumo-scan"), folder, "--out", out, "--report", report],
                tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    # Random noise is no chest film: the not-an-X-ray head refuses it (a model without that
    # head gives it a probability). Either way the model ran.
    film = rows["film.png"]
    if film["status"] == "not_xray":
        assert "does not look like a chest X-ray" in film["message"]
    else:
        assert film["status"] == "ok" and 0.0 <= float(film["probability"]) <= 1.0
    assert rows["broken.jpeg"]["status"] == "error"
    data = report.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize("command", ["pneumo-receive", "pneumo-calibrate"])
def test_every_console_command_runs_from_the_bundle(bundle, tmp_path, command):
    name = command if IS_LINUX else "pneumo-scan"
    extra = {} if IS_LINUX else {"PNEUMO_COMMAND": command}  # what the .cmd wrapper sets
    done = _run([_executable(bundle, name), "--help"], tmp_path, **extra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"usage: {command}" in done.stdout


@pytest.mark.skipif(not IS_LINUX, reason="stopped with SIGTERM")
def test_the_frozen_receiver_stores_a_film_sent_over_dicom(bundle, tmp_path):
    """pneumo-receive from the bundle (pynetdicom, frozen) takes a C-STORE from pynetdicom's
    storescu over loopback and stores the film, then stops cleanly on SIGTERM."""
    from tests.dicom_films import make_dicom
    from tests.dicom_net import scu_app

    films, into, log = tmp_path / "to_send", tmp_path / "received", tmp_path / "receiver.log"
    films.mkdir()
    make_dicom(films / "film.dcm", np.full((64, 48), 700, np.uint16))
    with open(log, "w") as stderr:
        receiver = subprocess.Popen(
            [str(_executable(bundle, "pneumo-receive")), "--into", str(into), "--port", "0",
             "--bind", "127.0.0.1", "--ae-title", "PNEUMO"],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path,
            env=app_env(HOME=str(tmp_path)),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not (port := re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())):
                assert receiver.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            sent = scu_app("storescu", "127.0.0.1", port.group(1), str(films / "film.dcm"),
                           "-aet", "XRAY1", "-aec", "PNEUMO")  # fmt: skip
            assert sent.returncode == 0, sent.stderr
        finally:
            receiver.send_signal(signal.SIGTERM)
            code = receiver.wait(timeout=30)
    assert code == 0, log.read_text()
    assert len(list(into.rglob("*.dcm"))) == 1, log.read_text()


def _chest_film() -> np.ndarray:
    """A real chest X-ray when the data set is here (the model then gives it a probability),
    else a drawn one (the not-an-X-ray head may refuse it: it is still decoded)."""
    films = sorted((DATA_DIR / "test" / "NORMAL").glob("*.jpeg"))[:1]
    if films:
        with Image.open(films[0]) as image:
            image = image.convert("L")
            image.thumbnail((768, 768))
            return np.asarray(image)
    return synthetic_xray(np.random.default_rng(3), pneumonia=False, size=512)


def test_compressed_dicom_decodes_in_the_bundle(bundle, tmp_path):
    """Each compressed transfer syntax CR/DR units send, decoded by the frozen app: the
    decoders are plugins found at run time (pylibjpeg's entry points, gdcm), which a bundle
    loses easily. Lossless, so every file must score exactly as the uncompressed one."""
    from tests.dicom_films import LOSSLESS_SYNTAXES, compress_dicom, make_dicom

    folder = tmp_path / "films"
    folder.mkdir()
    plain = make_dicom(folder / "uncompressed.dcm", _chest_film())
    for syntax in LOSSLESS_SYNTAXES:
        (folder / f"{syntax.name.replace(' ', '_')}.dcm").write_bytes(compress_dicom(plain, syntax))
    out = tmp_path / "results.csv"
    done = _run([_executable(bundle, "pneumo-scan"), folder, "--out", out], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {Path(row["path"]).stem: row for row in csv.DictReader(handle)}
    assert len(rows) == 1 + len(LOSSLESS_SYNTAXES)
    failed = {name: row["message"] for name, row in rows.items() if row["status"] == "error"}
    assert not failed, f"not decoded by the bundle: {failed}"
    scores = {row["probability"] for row in rows.values()}
    assert len(scores) == 1, f"lossless files scored differently: {rows}"


def test_the_frozen_scanner_writes_dicom_results(bundle, tmp_path):
    """pneumo-scan --dicom-out from the bundle: highdicom, frozen with its tables of the DICOM
    standard (data files), writes a Secondary Capture and a Structured Report for each
    classified DICOM film."""
    from tests.dicom_films import make_dicom

    folder, results, out = tmp_path / "films", tmp_path / "results", tmp_path / "results.csv"
    folder.mkdir()
    make_dicom(folder / "film.dcm", _chest_film())
    done = _run([_executable(bundle, "pneumo-scan"), folder, "--out", out, "--dicom-out",
                 results], tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        classified = sum(row["status"] == "ok" for row in csv.DictReader(handle))
    assert len(list(results.rglob("*.sc.dcm"))) == classified, done.stderr
    assert len(list(results.rglob("*.sr.dcm"))) == classified, done.stderr
    if DATA_DIR.is_dir():
        assert classified == 1, done.stderr  # a real chest film is classified


def test_bundle_holds_the_model_and_nothing_the_app_does_not_load(bundle):
    internal = bundle / "_internal"
    assert (internal / "models" / "cnn_deep_aug.card.json").is_file()
    assert (internal / "resources" / "pneumo_desktop.png").is_file()
    names = [p.relative_to(bundle) for p in bundle.rglob("*")]
    unused_qt = [str(p) for p in names if any(qt in p.name for qt in FORBIDDEN_QT)]
    assert not unused_qt, f"unused Qt modules were bundled: {unused_qt[:20]}"
    system = [str(p) for p in names if p.name in SYSTEM_LIBRARIES]
    assert not system, f"system libraries were bundled (the .deb depends on them): {system}"
    for package in ("tensorflow", "keras", "tkinter", "training", "pytest", "tf2onnx"):
        assert not (internal / package).exists(), f"{package} was bundled"


def test_bundle_size_has_not_grown(bundle):
    size = _bundle_bytes(bundle)
    print(f"\napp folder: {size / 1e6:.0f} MB ({size / 2**20:.0f} MiB) in {bundle}")
    assert size <= GUARD_BYTES, f"{size / 1e6:.0f} MB, over {GUARD_BYTES / 1e6:.0f} MB"


@pytest.mark.xfail(
    IS_LINUX,
    strict=True,
    reason="343 MB: SciPy with its OpenBLAS ~70 MB, scikit-learn and scikit-image ~22 MB",
)
def test_bundle_size_meets_the_issue(bundle):
    assert _bundle_bytes(bundle) <= ISSUE_LIMIT_BYTES


# ----------------------------------------------------------------------------- Linux packages


def _dpkg_field(package: Path, field: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(package), field], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(not IS_LINUX, reason="Debian package")
def test_deb_declares_the_system_libraries_and_the_glibc_floor(deb_package):
    depends = _dpkg_field(deb_package, "Depends")
    names = {d.strip().split(" ")[0] for d in depends.split(",")}
    assert set(system_packages()) <= names, depends
    # The glibc floor the README promises clinic users holds for what was built.
    floor = glibc_floor_of([d.strip() for d in depends.split(",")])
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    promised = re.search(r"needs glibc (\d+\.\d+) or\s+newer", readme)
    assert floor and promised, depends
    assert version_key(floor) <= version_key(promised.group(1)), (
        f"the .deb needs glibc {floor}, the README promises {promised.group(1)}"
    )
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb_package)], capture_output=True, text=True, check=True
    ).stdout
    for path in ("./opt/pneumo-desktop/pneumo-desktop", "./usr/bin/pneumo-scan ->",
                 "./usr/share/applications/pneumo-desktop.desktop",
                 "./usr/share/icons/hicolor/512x512/apps/pneumo-desktop.png"):  # fmt: skip
        assert path in listing, f"{path} is not in the package"


def _installed_files(package: str) -> list[Path]:
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True)
    return [Path(line) for line in listed.stdout.splitlines() if line.strip()]


@pytest.mark.skipif(not IS_LINUX, reason="Debian package")
def test_deb_installs_runs_and_uninstalls_without_a_trace(deb_package, tmp_path):
    require(os.geteuid() == 0, "installing a .deb needs root")
    apt_get = require_tool("apt-get", "apt")
    installed = subprocess.run(["dpkg", "-s", APP], capture_output=True)
    require(installed.returncode != 0, f"{APP} is installed on this machine already")
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run([apt_get, "install", "-y", str(deb_package)], capture_output=True,
                          text=True, env=quiet)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        files = _installed_files(APP)
        assert Path("/opt/pneumo-desktop/pneumo-desktop") in files
        _assert_self_test(_run(["pneumo-desktop", "--self-test"], tmp_path))
        folder = tmp_path / "films"
        folder.mkdir()
        Image.fromarray(np.full((256, 256), 90, np.uint8)).save(folder / "film.png")
        scan = _run(["pneumo-scan", folder, "--out", tmp_path / "r.csv"], tmp_path)
        assert scan.returncode == 0, scan.stdout + scan.stderr  # the scanner, by its name
        assert (tmp_path / "r.csv").read_text().count("\n") == 2
    finally:
        removed = subprocess.run([apt_get, "remove", "--purge", "-y", APP], capture_output=True,
                                 text=True, env=quiet)  # fmt: skip
    assert removed.returncode == 0, removed.stdout + removed.stderr
    # Every file the package owned is gone, and the install folder with them (dpkg keeps a
    # folder that still holds something, so this also catches files the app wrote there).
    leftovers = [p for p in files if (p.exists() or p.is_symlink()) and not p.is_dir()]
    assert not leftovers, f"left behind: {leftovers[:10]}"
    assert not Path("/opt/pneumo-desktop").exists(), "the install folder is still there"
