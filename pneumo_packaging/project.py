"""Names and paths every packaging step shares."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "pneumo-desktop"  # the GUI program, the install folder and the package name
SCAN_NAME = "pneumo-scan"  # the headless scanner: the same program under another name
DISPLAY_NAME = "Pneumo Desktop"
MODEL_NAME = "cnn_deep_aug"
RESOURCES = REPO_ROOT / "resources"
DESKTOP_FILE = RESOURCES / f"{APP_NAME}.desktop"
ICON_PNG = RESOURCES / "pneumo_desktop.png"
ICON_ICO = RESOURCES / "pneumo_desktop.ico"
SUMMARY = "Offline screening of paediatric chest X-rays for pneumonia"


class BuildError(Exception):
    """A packaging step cannot go on; the message says what is wrong and what to do."""


def project_version(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]


def numeric_version(version: str, parts: int = 4) -> str:
    """``0.1.0`` -> ``0.1.0.0``: Windows version resources take exactly four numbers."""
    numbers = [int(n) for n in re.findall(r"\d+", version)[:parts]]
    return ".".join(str(n) for n in numbers + [0] * (parts - len(numbers)))


def cache_key(path: str | os.PathLike[str]) -> str:
    """16 hex characters naming a cached, transformed copy of ``path`` (stripped, minified,
    trimmed): its path, size and time, so a changed source gets a new copy."""
    stat = os.stat(path)
    return hashlib.sha1(f"{os.fspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()
                        ).hexdigest()[:16]
