"""One app at a time: a second ``pneumo-desktop`` hands its argument to the running one.

The first start listens on a local socket (:class:`QLocalServer`, readable by this user only)
named after the user and the results database: two windows writing one store is the hazard,
and tests with their own databases never meet a developer's running app. A later start
connects, sends the film or folder it was given (made absolute: its working folder is not the
first one's), waits for the first to say it took it, and exits 0; the first brings its window
forward and opens the argument there.

A socket left behind by a crashed app answers nobody: the next start finds no listener,
removes it and listens itself.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

_ACK = b"ok\n"
HANDOVER_TIMEOUT_MS = 3000


def instance_name(db_path: Path | str) -> str:
    """The socket's name for this user and results database (short: a Unix socket path is
    limited to about 100 bytes)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): its number will do
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    key = f"{user}\0{Path(db_path).expanduser().resolve()}".encode()
    return f"pneumo_desktop-{hashlib.sha256(key).hexdigest()[:16]}"


def _connect(name: str, timeout_ms: int) -> QLocalSocket | None:
    socket = QLocalSocket()
    socket.connectToServer(name)
    return socket if socket.waitForConnected(timeout_ms) else None


def hand_over(name: str, argument: str | None, timeout_ms: int = HANDOVER_TIMEOUT_MS) -> bool:
    """Give ``argument`` (a path, or None to just come forward) to the app listening as
    ``name``; True once it has taken it, False when no app listens (or it did not answer)."""
    socket = _connect(name, timeout_ms)
    if socket is None:
        return False
    path = None if not argument else os.path.abspath(argument)
    socket.write(json.dumps({"open": path}).encode() + b"\n")
    socket.waitForBytesWritten(timeout_ms)  # False when flushed already: the answer tells
    answered = _read_line(socket, timeout_ms)
    socket.disconnectFromServer()
    return answered == _ACK


def _read_line(socket: QLocalSocket, timeout_ms: int) -> bytes:
    while not socket.canReadLine():
        if not socket.waitForReadyRead(timeout_ms):
            return b""
    return bytes(socket.readLine().data())


class InstanceServer(QObject):
    """The running app's end: :attr:`argumentReceived` carries each later start's path ("" for
    a start without one)."""

    argumentReceived = Signal(str)  # noqa: N815 - Qt naming

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        """Listen as :attr:`name`; a socket left by a crashed app is removed first. False if
        another app listens (then :func:`hand_over` to it)."""
        if self._server.listen(self.name):
            return True
        live = _connect(self.name, HANDOVER_TIMEOUT_MS)
        if live is not None:  # another app (busy, perhaps): never take its socket
            live.disconnectFromServer()
            return False
        QLocalServer.removeServer(self.name)  # nobody listens: a crashed app's socket
        if self._server.listen(self.name):
            return True
        log.warning("single instance: cannot listen as %s: %s", self.name,
                    self._server.errorString())
        return False

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.setParent(self)
            socket.readyRead.connect(lambda socket=socket: self._on_ready(socket))
            socket.disconnected.connect(socket.deleteLater)
            self._on_ready(socket)  # the line may be here already

    def _on_ready(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data())
        try:
            argument = json.loads(line).get("open") or ""
        except (ValueError, AttributeError):
            log.warning("single instance: ignored a message that is not ours: %r", line[:80])
            socket.disconnectFromServer()
            return
        socket.write(_ACK)
        socket.flush()
        log.info("a second start handed over %s", argument or "(no argument)")
        self.argumentReceived.emit(argument)


def bring_forward(window: QWidget) -> None:
    """Show ``window`` on top, restored if it was minimised (the window manager may only flash
    its task-bar entry: some refuse to let an app take the focus)."""
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def serve_window(server: InstanceServer, window) -> None:
    """Each later start brings ``window`` forward and opens its argument there."""
    def take(argument: str) -> None:
        bring_forward(window)
        if argument:
            window.open_argument(argument)

    server.argumentReceived.connect(take)
