"""DICOM networking helpers for the tests: ``pneumo-receive`` as its own process on a free
loopback port, and pynetdicom's command-line SCUs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class ReceiverProcess:
    """``pneumo-receive`` in a subprocess on a free loopback port; stderr goes to a file."""

    def __init__(self, into: Path, log: Path, *extra: str, launcher: str | None = None):
        self.into, self.log_path = into, log
        args = ["--into", str(into), "--port", "0", "--bind", "127.0.0.1", *extra]
        command = [sys.executable, "-c", launcher, *args] if launcher else [
            sys.executable, "-m", "pneumo_desktop.receive_cli", *args]
        self._log = log.open("w")
        self.process = subprocess.Popen(command, cwd=REPO, stderr=self._log,
                                        stdout=subprocess.DEVNULL)
        self.port = int(self.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    def text(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the receiver's log:\n{self.text()}")

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self._log.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=20)
        self._log.close()


def scu_app(app: str, *args: str) -> subprocess.CompletedProcess:
    """pynetdicom's own command-line SCU (``storescu``, ``echoscu``)."""
    return subprocess.run([sys.executable, "-m", "pynetdicom", app, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
