"""The Linux system libraries Qt needs, handled three ways: the README and CI install one
line, the app names what is missing instead of aborting, and the list stays complete."""

from __future__ import annotations

import ctypes.util
import os
import re
import subprocess
import sys
from pathlib import Path

import PySide6
import pytest

from pneumo_desktop import platform_check
from pneumo_desktop.platform_check import (
    QT_SYSTEM_LIBRARIES,
    apt_install_line,
    candidate_platforms,
    describe_missing,
    missing_libraries,
    needs_xcb_check,
    qt_import_problem,
    qt_platform_problem,
)
from tests.conftest import REPO_ROOT
from tests.packaging.conftest import app_env, require, require_tool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

QT_DIR = Path(PySide6.__file__).parent / "Qt"
# What every Linux system has: glibc, the C++ runtime, zlib and zstd.
BASE_SYSTEM = re.compile(
    r"^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|libz|"
    r"libzstd)\.so"
)


@pytest.mark.parametrize(
    ("environ", "platforms", "check"),
    [
        ({}, ["xcb"], True),
        ({"QT_QPA_PLATFORM": "xcb"}, ["xcb"], True),
        ({"QT_QPA_PLATFORM": "offscreen"}, ["offscreen"], False),
        ({"QT_QPA_PLATFORM": "wayland"}, ["wayland"], False),
        ({"QT_QPA_PLATFORM": "xcb:dpi=96"}, ["xcb"], True),
        ({"QT_QPA_PLATFORM": "wayland;xcb", "WAYLAND_DISPLAY": "w-0"}, ["wayland", "xcb"], False),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, ["wayland", "xcb"], True),
        ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "w-0"}, ["wayland", "xcb"], False),
        ({"XDG_SESSION_TYPE": "x11"}, ["xcb"], True),
    ],
)
def test_which_platform_qt_will_load(environ, platforms, check):
    assert candidate_platforms(environ) == platforms
    assert needs_xcb_check(environ) is check


def test_missing_libraries_names_each_failing_library_and_the_loader_s_own():
    failing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
    missing = missing_libraries(
        "/x/libQt6XcbQpa.so.6: libfoo-bar.so.3: cannot open shared object file",
        load=lambda name: "not found" if name in failing else None,
    )
    assert set(missing) == failing | {"libQt6XcbQpa.so.6", "libfoo-bar.so.3"}
    message = describe_missing(missing, "libfoo-bar.so.3: cannot open shared object file")
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in message
    assert "libfoo-bar.so.3: cannot open" in message  # unknown to the table: the loader's words


def test_an_import_error_of_a_missing_library_names_its_package_and_others_stay_bugs():
    error = ImportError("/lib/x86_64-linux-gnu/libgssapi_krb5.so.2: file too short")
    message = qt_import_problem(error, load=lambda name: None)
    assert "libgssapi_krb5.so.2" in message
    assert "sudo apt-get install libgssapi-krb5-2" in message
    assert qt_import_problem(ImportError("cannot import name 'QFoo' from 'PySide6.QtCore'"),
                             load=lambda name: None) is None


def test_no_problem_when_qt_does_not_use_xcb():
    assert qt_platform_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_no_display_is_reported_in_plain_words():
    require(not missing_libraries(""), "the Qt system libraries are not installed here")
    assert "no display" in qt_platform_problem({"QT_QPA_PLATFORM": "xcb"})


def test_the_list_covers_every_system_library_qt_links():
    """Every library that a Qt binary the installer keeps (spec_rules.keep_qt) links and the
    wheel does not ship is in QT_SYSTEM_LIBRARIES, and nothing else: a PySide6 upgrade that
    needs a new one fails here instead of at a clinic."""
    require_tool("objdump", "binutils")
    from pneumo_packaging.elf import is_elf, needed_libraries
    from pneumo_packaging.spec_rules import keep_qt

    shipped = {p.name for p in (QT_DIR / "lib").iterdir()}
    binaries = [
        path
        for path in [*(QT_DIR / "lib").iterdir(), *(QT_DIR / "plugins").rglob("*.so")]
        if keep_qt(f"PySide6/{path.relative_to(QT_DIR.parent).as_posix()}") and is_elf(path)
    ]
    assert any(p.name == "libqxcb.so" for p in binaries)
    needed = {name for binary in binaries for name in needed_libraries(binary)}
    system = {name for name in needed - shipped if not BASE_SYSTEM.match(name)}
    assert system == set(QT_SYSTEM_LIBRARIES), (
        f"not listed: {sorted(system - set(QT_SYSTEM_LIBRARIES))}; "
        f"no longer needed: {sorted(set(QT_SYSTEM_LIBRARIES) - system)}"
    )


def test_readme_and_ci_install_exactly_the_one_line():
    line = apt_install_line()
    assert line.startswith("sudo apt-get install -y python3-venv libbrotli1 libdbus-1-3 ")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_commands = readme.split("\n## ", 1)[0]
    assert line in first_commands, f"the README's first commands must give: {line}"
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    packages = re.search(r"^qt_system_packages=\((.*)\)$", ci, re.MULTILINE)
    assert packages, ".ci/run must define qt_system_packages=(...)"
    assert "sudo apt-get install -y " + packages.group(1) == line


def _hidden_library_command(library: Path, empty: Path, command: list[str]) -> list[str]:
    """``command`` in a private mount namespace where ``library`` is the empty file ``empty``:
    the machine's own copy is untouched, and no other process sees the change."""
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    script = 'touch "$1" && mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return [*unshare, "sh", "-c", script, "sh", str(empty), str(library), *command]


def hidden_xcb_cursor_run(command: list[str], tmp_path: Path, **env: str):
    """Run ``command`` with libxcb-cursor hidden (see :func:`hidden_library_run`)."""
    return hidden_library_run("xcb-cursor", command, tmp_path, QT_QPA_PLATFORM="xcb", **env)


def hidden_library_run(name: str, command: list[str], tmp_path: Path, **env: str):
    """Run ``command`` with the system library ``name`` (as ``find_library`` takes it) hidden;
    skip (fail under CI) where that cannot be done here."""
    require_tool("unshare", "util-linux")
    found = ctypes.util.find_library(name)
    require(found is not None, f"lib{name} is not installed")
    library = next(
        (Path(d) / found).resolve()
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")
        if (Path(d) / found).exists()
    )
    empty = tmp_path / "empty.so"
    probe = subprocess.run(_hidden_library_command(library, empty, ["true"]), capture_output=True)
    require(probe.returncode == 0, f"no private mount namespace here: {probe.stderr.decode()}")
    return subprocess.run(
        _hidden_library_command(library, empty, command),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=app_env(HOME=str(tmp_path), **env),
    )


def test_app_names_the_missing_package_instead_of_aborting(tmp_path):
    """From source: the window cannot open without libxcb-cursor, and the user is told which
    package to install; the process ends with status 1, not Qt's abort."""
    done = hidden_xcb_cursor_run(
        [sys.executable, "-m", "pneumo_desktop.app", "--db", str(tmp_path / "r.sqlite3")],
        tmp_path,
        PYTHONPATH=str(REPO_ROOT),
    )
    assert done.returncode == platform_check.PLATFORM_UNAVAILABLE_EXIT, done.stderr
    assert "libxcb-cursor.so.0" in done.stderr
    assert "sudo apt-get install libxcb-cursor0" in done.stderr
    assert "Could not load the Qt platform plugin" not in done.stderr  # Qt never got that far


def test_a_missing_qt_network_library_is_named_not_a_traceback(tmp_path):
    """QtNetwork (one app at a time) links libgssapi_krb5, which the xcb check never loads:
    without it, the import fails and the user is told the package, with status 1."""
    done = hidden_library_run(
        "gssapi_krb5",
        [sys.executable, "-m", "pneumo_desktop.app", "--db", str(tmp_path / "r.sqlite3")],
        tmp_path, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen",
    )  # fmt: skip
    assert done.returncode == platform_check.PLATFORM_UNAVAILABLE_EXIT, done.stderr
    assert "sudo apt-get install libgssapi-krb5-2" in done.stderr
    assert "Traceback" not in done.stderr


def test_real_app_opens_its_window_on_xcb(xvfb_display, tmp_path):
    """The app from source on a real X server (Xvfb) with the xcb platform: Qt aborts when a
    system library is missing, so a zero exit status proves them all present."""
    done = subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.app", "--startup-time",
         "--db", str(tmp_path / "results.sqlite3")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=app_env(HOME=str(tmp_path), DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "window visible after" in done.stdout, done.stdout + done.stderr
    print(done.stdout.strip())


def test_qt_platform_problem_is_none_where_the_window_opens(xvfb_display):
    assert qt_platform_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": xvfb_display}) is None
