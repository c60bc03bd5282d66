"""The installed app on a PC without AVX: the bundle's ``--self-test`` on an emulated Nehalem.

    python bench/avx_less_cpu.py [--bundle dist/pneumo-desktop] [--cpu Nehalem] [--source]

Celeron and Pentium machines common in remote clinics lack AVX; TensorFlow's wheels use it
unconditionally and die with an illegal instruction there. ``qemu-x86_64 -cpu Nehalem``
(Debian's ``qemu-user``) runs the program on an emulated x86-64 CPU of 2008 (SSE4.2, no AVX):
it reports no AVX to the program, and an AVX instruction executed anyway is illegal.

PyInstaller's loader re-executes itself once on Linux (``exec`` in the same process, to set
``LD_LIBRARY_PATH``), and qemu-user would run that second image natively, on the real CPU:
the bench sets the variables the loader sets before that restart, so it does not happen, and
checks in qemu's system-call trace that nothing was executed outside the emulator.

First the emulated CPU's features as numpy sees them, then the self-test (slow: emulation,
not the app). ``--source`` runs the self-test from source as well; ``--control`` imports
TensorFlow (the ``train`` extra) on the same emulated CPU, which should die of an illegal
instruction: proof that the emulation catches AVX.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT

TRACE = re.compile(r"^\d+ ")  # qemu -strace lines start with the process id
FEATURES = (
    "import numpy._core._multiarray_umath as m; f = m.__cpu_features__; "
    "print(', '.join(k + ('+' if f[k] else '-') for k in ('SSE42', 'AVX', 'AVX2', 'FMA3')))"
)


def emulated(
    command: list[str], cpu: str, home: str, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 not found: sudo apt-get install qemu-user")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home, **(env or {})}
    env.pop("PNEUMO_MODELS_DIR", None)
    started = time.perf_counter()
    done = subprocess.run(
        [qemu, "-cpu", cpu, "-strace", *command],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT,
    )  # fmt: skip
    if re.search(r"^\d+ execve\(", done.stderr, re.MULTILINE):
        sys.exit(f"{command[0]} executed a program outside the emulator: no valid result")
    # The trace is for that check; the program's own output is what is left.
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if not TRACE.match(line))
    return time.perf_counter() - started, done


def without_restart(program: Path) -> dict[str, str]:
    """The environment PyInstaller's loader gives its restarted image (read from a running
    bundle's /proc/PID/environ): with it, the loader goes straight to Python."""
    return {
        "_PYI_ARCHIVE_FILE": str(program),
        "_PYI_PARENT_PROCESS_LEVEL": "-1",
        "_PYI_LINUX_PROCESS_NAME": program.name,
        "LD_LIBRARY_PATH": str(program.parent / "_internal"),
    }


def describe(label: str, seconds: float, done: subprocess.CompletedProcess) -> bool:
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if done.returncode == 0:
        print(f"{label}: passed in {seconds:.1f} s (emulated): {lines[-1] if lines else ''}")
        return True
    signal = f" (signal {-done.returncode})" if done.returncode < 0 else ""
    print(f"{label}: FAILED, exit status {done.returncode}{signal} after {seconds:.1f} s")
    print("\n".join("    " + line for line in (done.stdout + done.stderr).splitlines()[-8:]))
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "pneumo-desktop")
    parser.add_argument("--cpu", default="Nehalem", help="qemu CPU model (default: Nehalem)")
    parser.add_argument("--source", action="store_true", help="also from source")
    parser.add_argument("--control", action="store_true", help="import TensorFlow too")
    args = parser.parse_args()
    program = args.bundle / "pneumo-desktop"
    if not program.is_file():
        sys.exit(f"{program} not found: build it with python3 -m pneumo_packaging bundle")
    with tempfile.TemporaryDirectory() as home:
        _, features = emulated([sys.executable, "-c", FEATURES], args.cpu, home)
        print(f"emulated {args.cpu} CPU, as numpy sees it: {features.stdout.strip()}")
        bundle_run = emulated(
            [str(program), "--self-test"], args.cpu, home, without_restart(program)
        )
        ok = describe("bundle --self-test", *bundle_run)
        if args.source:
            source = [sys.executable, "-m", "pneumo_desktop.app", "--self-test"]
            ok &= describe("source --self-test", *emulated(source, args.cpu, home))
        if args.control:
            control = [sys.executable, "-c", "import tensorflow"]
            died = not describe("control: import tensorflow", *emulated(control, args.cpu, home))
            print("control: the emulated CPU " + ("faults on AVX, as it should" if died else
                  "ran TensorFlow: AVX is not being caught, the results above prove nothing"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
