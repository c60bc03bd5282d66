"""pneumo_packaging/launcher.py and commands.py: one frozen program, every command of
pyproject.toml, told apart by the name it is started as (or, on Windows, by its wrapper)."""

from __future__ import annotations

import tomllib

import pytest

import pneumo_desktop.app
import pneumo_desktop.calibrate_cli
import pneumo_desktop.cli
import pneumo_desktop.receive_cli
from pneumo_packaging import commands, launcher
from tests.conftest import REPO_ROOT


def test_the_launcher_knows_every_command_of_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert launcher.CONSOLE_COMMANDS == project["scripts"]
    assert dict([launcher.GUI_COMMAND]) == project["gui-scripts"]


@pytest.mark.parametrize(
    ("argv0", "environ", "expected"),
    [
        ("/usr/bin/pneumo-scan", {}, "scan"),
        ("/opt/pneumo-desktop/pneumo-receive", {}, "receive"),
        ("pneumo-calibrate", {}, "calibrate"),
        ("C:\\Program Files\\Pneumo Desktop\\PNEUMO-SCAN.EXE", {}, "scan"),
        ("C:\\Program Files\\Pneumo Desktop\\pneumo-scan.exe",
         {"PNEUMO_COMMAND": "pneumo-receive"}, "receive"),  # fmt: skip
        ("/opt/pneumo-desktop/pneumo-desktop", {}, "app"),
        ("pneumo-desktop.exe", {}, "app"),
    ],
)
def test_the_program_runs_what_it_is_called(monkeypatch, argv0, environ, expected):
    monkeypatch.setattr(pneumo_desktop.cli, "scan_main", lambda: "scan")
    monkeypatch.setattr(pneumo_desktop.receive_cli, "receive_main", lambda: "receive")
    monkeypatch.setattr(pneumo_desktop.calibrate_cli, "calibrate_main", lambda: "calibrate")
    monkeypatch.setattr(pneumo_desktop.app, "main", lambda: "app")
    monkeypatch.setattr("sys.argv", [argv0, "--help"])
    monkeypatch.delenv("PNEUMO_COMMAND", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert launcher.main() == expected
    assert "PNEUMO_COMMAND" not in __import__("os").environ  # not passed on to children


def test_linux_links_and_windows_wrappers(tmp_path):
    commands.add_command_links(tmp_path)
    for name in ("pneumo-scan", "pneumo-receive", "pneumo-calibrate"):
        assert (tmp_path / name).readlink().name == "pneumo-desktop"
    windows = tmp_path / "windows"
    windows.mkdir()
    commands.add_windows_wrappers(windows)
    assert sorted(p.name for p in windows.iterdir()) == ["pneumo-calibrate.cmd",
                                                         "pneumo-receive.cmd"]
    wrapper = (windows / "pneumo-receive.cmd").read_bytes().decode("ascii")
    assert "set PNEUMO_COMMAND=pneumo-receive\r\n" in wrapper
    assert '"%~dp0pneumo-scan.exe" %*\r\n' in wrapper and "exit /b %ERRORLEVEL%" in wrapper
