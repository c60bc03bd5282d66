"""The bundle's commands beside its program: links on Linux, ``.cmd`` wrappers on Windows."""

from __future__ import annotations

import os
from pathlib import Path

from .launcher import COMMAND_VARIABLE, CONSOLE_COMMANDS, GUI_COMMAND
from .project import SCAN_NAME

WINDOWS_CONSOLE_PROGRAM = SCAN_NAME  # the one console .exe; the GUI program has no console


def console_commands() -> list[str]:
    return sorted(CONSOLE_COMMANDS)


def add_command_links(folder: Path) -> None:
    """Linux/macOS: every console command is a symbolic link to the one program, which runs
    the command it is started as."""
    for name in console_commands():
        os.symlink(GUI_COMMAND[0], folder / name)


def windows_wrapper(name: str) -> str:
    """A ``.cmd`` that runs ``name`` through the console program, passing on the arguments
    and the exit status."""
    return (
        "@echo off\r\n"
        "setlocal\r\n"
        f"set {COMMAND_VARIABLE}={name}\r\n"
        f'"%~dp0{WINDOWS_CONSOLE_PROGRAM}.exe" %*\r\n'
        "exit /b %ERRORLEVEL%\r\n"
    )


def add_windows_wrappers(folder: Path) -> None:
    for name in console_commands():
        if name != WINDOWS_CONSOLE_PROGRAM:
            # Bytes: the CRLF line ends as they are, whatever the build machine writes.
            (folder / f"{name}.cmd").write_bytes(windows_wrapper(name).encode("ascii"))
