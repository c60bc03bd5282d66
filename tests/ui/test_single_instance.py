"""One app at a time: a second ``pneumo-desktop`` (a real process) hands its argument to the
running one and exits 0; the running window comes forward and opens it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalServer
from PySide6.QtWidgets import QMainWindow

from pneumo_desktop.ui.single_instance import (
    InstanceServer,
    hand_over,
    instance_name,
    serve_window,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(qtbot, tmp_path):
    server = InstanceServer(instance_name(tmp_path / "results.sqlite3"))
    assert server.listen()
    yield server
    server.close()


def start_app(*args: str, cwd: Path) -> subprocess.Popen:
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pneumo_desktop.app", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_second_start_hands_its_argument_to_the_first_and_exits_0(qtbot, server, tmp_path):
    (tmp_path / "films").mkdir()
    started = time.perf_counter()
    # A relative path: the second start's working folder is not the first one's.
    second = start_app("--db", str(tmp_path / "results.sqlite3"), "films/x.dcm", cwd=tmp_path)
    with qtbot.waitSignal(server.argumentReceived, timeout=60_000) as received:
        pass
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output.decode()
    assert received.args == [str(tmp_path / "films" / "x.dcm")]
    assert b"MainWindow" not in output  # it never built a window of its own
    print(f"hand-over by a second process: {time.perf_counter() - started:.2f} s")


def test_another_database_is_another_app(qtbot, server, tmp_path):
    assert instance_name(tmp_path / "results.sqlite3") == server.name
    assert instance_name(tmp_path / "other.sqlite3") != server.name
    assert not hand_over(instance_name(tmp_path / "other.sqlite3"), "x.png")


def test_a_socket_left_by_a_crashed_app_is_taken_over(qtbot, tmp_path):
    name = instance_name(tmp_path / "crashed.sqlite3")
    if sys.platform == "win32":
        pytest.skip("named pipes vanish with their process: nothing is left behind")
    crashed = QLocalServer()
    assert crashed.listen(name)
    stale = crashed.fullServerName()
    # A crash leaves the socket file without a listener: close without removing it.
    os.rename(stale, stale + ".keep")
    crashed.close()
    os.rename(stale + ".keep", stale)
    assert Path(stale).exists() and not hand_over(name, None, timeout_ms=500)
    server = InstanceServer(name)
    assert server.listen()
    server.close()


def test_the_running_window_comes_forward_and_opens_the_argument(qtbot, server, tmp_path):
    class Window(QMainWindow):
        def __init__(self) -> None:
            super().__init__()
            self.opened: list[str] = []

        def open_argument(self, argument: str) -> None:
            self.opened.append(argument)

    window = Window()
    qtbot.addWidget(window)
    serve_window(server, window)
    window.showMinimized()
    server.argumentReceived.emit(str(tmp_path / "a.png"))
    server.argumentReceived.emit("")  # a start without an argument only brings it forward
    assert window.opened == [str(tmp_path / "a.png")]
    assert window.isVisible() and not window.isMinimized()
