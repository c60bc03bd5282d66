"""The app's DICOM receiver: ``pneumo-receive`` inside the app, started with it when the
clinic enabled it in Settings, stopped cleanly on quit.

:class:`ReceiverService` owns one :class:`~pneumo_desktop.core.receiver.StorageReceiver`
(pynetdicom listens in its own threads; nothing here blocks the GUI) and says where it stands
in one line for the status bar: "Receiving on :11112 — 3 films today", or why it is not
("Receiver stopped: port 11112 is in use"). The films it stores land in the receive folder,
where a watched scan (``ScanController``) picks them up.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from pneumo_desktop.core.receiver import StorageReceiver
from pneumo_desktop.ui.site_settings import ReceiverSettings

log = logging.getLogger(__name__)

TICK_MS = 1000
OFF_TEXT = "Receiver off"


def films_received_on(folder: Path, day: dt.date) -> int:
    """The ``.dcm`` files under ``folder`` last written on ``day`` (local time): what earlier
    runs of the app received today."""
    start = dt.datetime.combine(day, dt.time()).timestamp()
    end = start + 86400
    count = 0
    for path in Path(folder).rglob("*.dcm"):
        try:
            count += start <= path.stat().st_mtime < end
        except OSError:
            continue
    return count


def _why_not(error: OSError, settings: ReceiverSettings) -> str:
    if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
        return f"port {settings.port} is in use (another receiver or program)"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"not allowed to listen on port {settings.port} (ports below 1024 need rights)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"this computer has no address {settings.bind}"
    return str(error.strerror or error)


class ReceiverService(QObject):
    """``stateChanged`` carries the status-bar line whenever it changes."""

    stateChanged = Signal(str)  # noqa: N815 - Qt naming
    filmReceived = Signal(int)  # noqa: N815 - films received today, after each new one

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._receiver: StorageReceiver | None = None
        self._settings: ReceiverSettings | None = None
        self._text = OFF_TEXT
        self._day = dt.date.today()
        self._earlier_today = 0  # films already in the folder from today, at start
        self._stored_before_today = 0  # the receiver's count when the day began
        self._seen = 0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def is_running(self) -> bool:
        return self._receiver is not None

    @property
    def text(self) -> str:
        return self._text

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens (the real port when the settings said 0)."""
        return self._receiver.address if self._receiver is not None else None

    @property
    def folder(self) -> Path | None:
        return self._settings.receive_folder if self._settings is not None else None

    @property
    def films_today(self) -> int:
        if self._receiver is None:
            return 0
        return self._earlier_today + self._receiver.stored - self._stored_before_today

    def apply(self, settings: ReceiverSettings) -> bool:
        """Stop any running receiver and start one with ``settings`` when they are enabled.
        True when it is listening."""
        self.stop(quiet=True)
        self._settings = settings
        if not settings.enabled:
            self._set_text(OFF_TEXT)
            return False
        problems = settings.problems()
        if problems:
            self._set_text(f"Receiver stopped: {problems[0]}")
            return False
        receiver = StorageReceiver(settings.config())
        try:
            receiver.start()
        except OSError as error:
            log.error("the DICOM receiver could not start on %s:%d: %s", settings.bind,
                      settings.port, error)
            self._set_text(f"Receiver stopped: {_why_not(error, settings)}")
            return False
        self._receiver = receiver
        self._day = dt.date.today()
        self._earlier_today = films_received_on(settings.receive_folder, self._day)
        self._stored_before_today = self._seen = 0
        self._timer.start()
        self._tick()
        return True

    def stop(self, quiet: bool = False) -> None:
        """Stop listening (associations in progress end; a film half-received leaves only
        its ``.partial``)."""
        self._timer.stop()
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.stop()
        if not quiet:
            self._set_text(OFF_TEXT)

    def _tick(self) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        today = dt.date.today()
        if today != self._day:  # past midnight: a new day's count
            self._day, self._earlier_today = today, 0
            self._stored_before_today = receiver.stored
        host, port = receiver.address
        where = f":{port}" if host in ("0.0.0.0", "::") else f"{host}:{port}"
        count = self.films_today
        self._set_text(f"Receiving on {where} — {count} film{'s' if count != 1 else ''} today")
        if receiver.stored != self._seen:
            self._seen = receiver.stored
            self.filmReceived.emit(count)

    def _set_text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.stateChanged.emit(text)
