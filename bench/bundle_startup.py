"""``--self-test`` start-up of the installed app: cold and warm from the bundle, warm from source.

    python bench/bundle_startup.py [--bundle dist/pneumo-desktop] [--runs 5]

The self-test imports the app, loads and verifies the model, classifies a generated film and
exits: what a clinic's first click costs, minus the window. *Cold* is the first run after the
bundle's own files are evicted from the page cache (``posix_fadvise(DONTNEED)`` on each file:
the system's libraries stay cached, as on a running desktop; nothing else on the machine is
touched); *warm* is the median of the next runs. Issue 11 asks for ≤ 2 s warm, from the bundle
and from source. Each run also reports its CPU time (user + system, the program's threads
together): on a machine busy with other work the wall time grows, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, machine

LIMIT_S = 2.0


def evict_from_page_cache(folder: Path) -> int:
    """Ask the kernel to drop the cached pages of every file under ``folder``; bytes asked."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            total += path.stat().st_size
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_test_seconds(command: list[str], home: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``--self-test``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home}
    env.pop("PNEUMO_MODELS_DIR", None)
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        command + ["--self-test"], capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} --self-test failed:\n{done.stdout}{done.stderr}")
    return elapsed, cpu


def report(label: str, runs: list[tuple[float, float]]) -> float:
    median = statistics.median(wall for wall, _cpu in runs)
    cpu = statistics.median(cpu for _wall, cpu in runs)
    verdict = "within" if median <= LIMIT_S else "OVER"
    walls = ", ".join(f"{wall:.2f}" for wall, _cpu in runs)
    print(f"{label}: median {median:.2f} s wall, {cpu:.2f} s CPU "
          f"({verdict} the {LIMIT_S:.0f} s limit; runs {walls})")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "pneumo-desktop")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    program = args.bundle / "pneumo-desktop"
    if not program.is_file():
        sys.exit(f"{program} not found: build it with python3 -m pneumo_packaging bundle")
    print(f"{machine()}, load average {os.getloadavg()[0]:.1f}; bundle {args.bundle}")
    with tempfile.TemporaryDirectory() as home:
        evicted = evict_from_page_cache(args.bundle)
        cold, cold_cpu = self_test_seconds([str(program)], home)
        print(f"bundle, cold ({evicted / 1e6:.0f} MB evicted from the page cache): "
              f"{cold:.2f} s wall, {cold_cpu:.2f} s CPU")
        bundle_warm = [self_test_seconds([str(program)], home) for _ in range(args.runs)]
        source = [sys.executable, "-m", "pneumo_desktop.app"]
        source_warm = [self_test_seconds(source, home) for _ in range(args.runs + 1)][1:]
    worst = max(report("bundle, warm", bundle_warm), report("source, warm", source_warm))
    return 0 if worst <= LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
