"""The installed app on a PC without AVX: the bundle's ``--self-test`` on an emulated Nehalem.

    python bench/avx_less_cpu.py [--bundle dist/pneumo-desktop] [--cpu Nehalem] [--source]

Celeron and Pentium machines common in remote clinics lack AVX; TensorFlow's wheels use it
unconditionally and die with an illegal instruction there. ``qemu-x86_64 -cpu Nehalem``
(Debian's ``qemu-user``) runs the program on an emulated x86-64 CPU of 2008 (SSE4.2, no AVX):
it reports no AVX to the program, and an AVX instruction executed anyway is illegal. The
bundle's loader starts no second program, so everything runs inside the emulator. First the
emulated CPU's features as numpy sees them, then the self-test (slow: emulation, not the app).
``--source`` runs the self-test from source as well (the same interpreter, emulated).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT

FEATURES = (
    "import numpy._core._multiarray_umath as m; f = m.__cpu_features__; "
    "print(', '.join(k + ('+' if f[k] else '-') for k in ('SSE42', 'AVX', 'AVX2', 'FMA3')))"
)


def emulated(command: list[str], cpu: str, home: str) -> tuple[float, subprocess.CompletedProcess]:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 not found: sudo apt-get install qemu-user")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": home}
    env.pop("PNEUMO_MODELS_DIR", None)
    started = time.perf_counter()
    done = subprocess.run(
        [qemu, "-cpu", cpu, *command], capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )
    return time.perf_counter() - started, done


def describe(label: str, seconds: float, done: subprocess.CompletedProcess) -> bool:
    lines = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode == 0:
        print(f"{label}: passed in {seconds:.1f} s (emulated): {lines[-1] if lines else ''}")
        return True
    signal = f" (signal {-done.returncode})" if done.returncode < 0 else ""
    print(f"{label}: FAILED, exit status {done.returncode}{signal} after {seconds:.1f} s")
    print("\n".join("    " + line for line in lines[-8:]))
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "pneumo-desktop")
    parser.add_argument("--cpu", default="Nehalem", help="qemu CPU model (default: Nehalem)")
    parser.add_argument("--source", action="store_true", help="also from source")
    args = parser.parse_args()
    program = args.bundle / "pneumo-desktop"
    if not program.is_file():
        sys.exit(f"{program} not found: build it with python3 -m pneumo_packaging bundle")
    with tempfile.TemporaryDirectory() as home:
        _, features = emulated([sys.executable, "-c", FEATURES], args.cpu, home)
        print(f"emulated {args.cpu} CPU, as numpy sees it: {features.stdout.strip()}")
        bundle_run = emulated([str(program), "--self-test"], args.cpu, home)
        ok = describe("bundle --self-test", *bundle_run)
        if args.source:
            source = [sys.executable, "-m", "pneumo_desktop.app", "--self-test"]
            ok &= describe("source --self-test", *emulated(source, args.cpu, home))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
