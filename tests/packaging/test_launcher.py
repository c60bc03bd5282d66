"""pneumo_packaging/launcher.py: one frozen program, two commands, told apart by their name."""

from __future__ import annotations

import pytest

import pneumo_desktop.app
import pneumo_desktop.cli
from pneumo_packaging import launcher


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/usr/bin/pneumo-scan", "scanner"),
        ("pneumo-scan.exe", "scanner"),
        ("PNEUMO-SCAN.EXE", "scanner"),
        ("/opt/pneumo-desktop/pneumo-desktop", "app"),
        ("pneumo-desktop.exe", "app"),
    ],
)
def test_the_program_runs_what_it_is_called(monkeypatch, argv0, expected):
    monkeypatch.setattr(pneumo_desktop.cli, "scan_main", lambda: "scanner")
    monkeypatch.setattr(pneumo_desktop.app, "main", lambda: "app")
    monkeypatch.setattr("sys.argv", [argv0, "--self-test"])
    assert launcher.main() == expected
