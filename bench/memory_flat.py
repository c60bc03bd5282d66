"""Resident memory over a 10,000-file scan: ``pneumo-scan`` over the test set repeated through
symbolic links, RSS sampled every half second. Memory must stay flat: no growth with the
number of files scanned.
Usage: python bench/memory_flat.py [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA_DIR, REPO_ROOT


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    sources = sorted((DATA_DIR / "test").rglob("*.jpeg"))
    with tempfile.TemporaryDirectory(prefix="pneumo-memory-") as scratch:
        folder = Path(scratch) / "films"
        for index in range(args.files):
            source = sources[index % len(sources)]
            target = folder / f"copy{index // len(sources):02d}" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
        command = [sys.executable, "-m", "pneumo_desktop.cli", str(folder),
                   "--out", str(Path(scratch) / "r.csv"), "--db", str(Path(scratch) / "r.db")]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
        samples = []
        while process.poll() is None:
            value = rss_mib(process.pid)
            if value is not None:
                samples.append((time.perf_counter() - started, value))
            time.sleep(0.5)
        stderr = process.stderr.read()
        elapsed = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"pneumo-scan failed: {stderr[-2000:]}")
    print(f"{args.files} files scanned in {elapsed:.0f} s ({args.files / elapsed:.1f} images/s)")
    # After start-up (TensorFlow import, model load) memory should not grow with files.
    steady = [value for moment, value in samples if moment > elapsed * 0.1]
    quarter = len(steady) // 4 or 1
    early, late = steady[:quarter], steady[-quarter:]
    print(f"RSS MiB: peak {max(v for _, v in samples):.0f}; first quarter of the scan mean "
          f"{sum(early) / len(early):.0f}, last quarter mean {sum(late) / len(late):.0f}; "
          f"growth {sum(late) / len(late) - sum(early) / len(early):+.0f} MiB")
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        moment, value = samples[min(len(samples) - 1, int(len(samples) * fraction) - 1)]
        print(f"  t={moment:6.0f} s  RSS {value:6.0f} MiB")


if __name__ == "__main__":
    main()
