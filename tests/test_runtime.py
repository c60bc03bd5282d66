"""One runtime configuration: nothing happens at import, configure() sets the environment,
the log file and the exception hooks, and a windowed build without streams still logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pneumo_desktop import runtime
from tests.conftest import REPO_ROOT


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_importing_the_package_changes_nothing():
    env = {k: v for k, v in os.environ.items() if k not in runtime.ENVIRONMENT}
    done = _python("""
        import logging, os, sys
        import pneumo_desktop.app, pneumo_desktop.cli, pneumo_desktop.runtime
        import pneumo_desktop.core.explain, pneumo_desktop.core.batch
        import pneumo_desktop.core.pdf_report, pneumo_desktop.ui.main_window
        names = sorted(pneumo_desktop.runtime.ENVIRONMENT)
        print([os.environ.get(name) for name in names])
        print(logging.getLogger().handlers, sys.excepthook is sys.__excepthook__)
    """, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str([None] * len(runtime.ENVIRONMENT)), "[] True"]


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """``runtime.configure`` into a temporary log folder, undone afterwards."""
    monkeypatch.setenv(runtime.LOG_DIR_VARIABLE, str(tmp_path / "logs"))
    log_file = runtime.configure("pneumo-test", gui=False)
    yield log_file
    runtime.reset()


def test_configure_logs_to_a_file_in_the_log_dir_and_reset_undoes_it(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.LOG_DIR_VARIABLE, str(tmp_path / "logs"))
    runtime.reset()  # an earlier test's configuration (a CLI run in-process) undone first
    hooks_before = sys.excepthook, threading.excepthook
    configured = runtime.configure("pneumo-test", gui=False)
    assert (sys.excepthook, threading.excepthook) != hooks_before  # its own hooks, now
    assert configured == tmp_path / "logs" / "pneumo-test.log"
    assert runtime.current_log_file() == configured
    assert all(os.environ[name] for name in runtime.ENVIRONMENT)
    logging.getLogger("pneumo_desktop.anything").info("a line for the clinic's log")
    handlers_before_reset = len(logging.getLogger().handlers)
    runtime.reset()
    assert runtime.current_log_file() is None
    assert len(logging.getLogger().handlers) < handlers_before_reset
    assert (sys.excepthook, threading.excepthook) == hooks_before
    text = configured.read_text(encoding="utf-8")
    assert "pneumo-test 0.1.0 starting" in text and "a line for the clinic's log" in text


def test_an_exception_in_a_plain_thread_is_logged_with_its_traceback(configured):
    def scan_the_night():
        raise RuntimeError("disk unplugged")

    thread = threading.Thread(target=scan_the_night, name="night-scan")
    thread.start()
    thread.join()
    text = configured.read_text(encoding="utf-8")
    assert "uncaught exception in thread night-scan" in text
    assert "Traceback" in text and "in scan_the_night" in text
    assert "RuntimeError: disk unplugged" in text


def test_a_windowed_build_without_streams_logs_its_uncaught_exception(tmp_path):
    """As a PyInstaller windowed build starts: no stdout, no stderr, then a crash."""
    env = dict(os.environ, PNEUMO_LOG_DIR=str(tmp_path))
    done = _python("""
        import sys
        sys.stdout = sys.stderr = None
        from pneumo_desktop import runtime
        runtime.configure("pneumo-desktop", gui=True)
        print("nobody sees this")  # must not fail without a console
        def open_film():
            raise ValueError("film is truncated or damaged")
        open_film()
    """, env)
    assert done.returncode == 1 and done.stdout == ""
    text = Path(tmp_path / "pneumo-desktop.log").read_text(encoding="utf-8")
    assert "CRITICAL" in text and "uncaught exception" in text
    assert "in open_film" in text and "ValueError: film is truncated or damaged" in text
