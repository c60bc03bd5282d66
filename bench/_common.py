"""Shared set-up for the benchmark scripts (not tests: they print measured ratios)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pneumo_desktop.runtime import apply_environment  # noqa: E402 - needs the path above

# The environment pneumo-scan and the app run with (runtime.ENVIRONMENT), before TensorFlow.
apply_environment()
DATA_DIR = Path(os.environ.get("PNEUMO_DATA_DIR", REPO_ROOT / "../shared/data/chest_xray"))
FULLRES_DIR = DATA_DIR.parent / "fullres"


def fullres_files() -> list[Path]:
    from pneumo_desktop.core.scan import list_images

    if not FULLRES_DIR.is_dir():
        sys.exit(f"full-resolution X-rays not found at {FULLRES_DIR}: set PNEUMO_DATA_DIR")
    return list_images(FULLRES_DIR)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {sys.platform}"
