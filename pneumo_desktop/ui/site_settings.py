"""The clinic's network and folder settings, as typed values stored in :class:`Preferences`:
the DICOM receiver, the DICOM results (output folder and PACS node) and the folder watch.

Each is a frozen dataclass with ``from_value``/``to_value`` (a stored mapping; a missing or
unreadable key keeps its default) and ``problems()``, the reasons it cannot be used, in words
for the settings dialog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pneumo_desktop.core.receiver import (
    DEFAULT_AE_TITLE,
    DEFAULT_BIND,
    DEFAULT_PORT,
    ReceiverConfig,
    is_ae_title,
)
from pneumo_desktop.core.watch import DEFAULT_SETTLE_SECONDS


def default_receive_folder() -> Path:
    """Where received films go unless the clinic chooses: the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("pneumo_desktop", appauthor=False)) / "received"


def _ae_problem(title: str, what: str) -> str | None:
    # The settings also refuse spaces around the title (the command lines strip them).
    if not is_ae_title(title) or title != title.strip():
        return f"{what} must be 1 to 16 letters, digits or spaces (not {title!r})"
    return None


def _port_problem(port: int, what: str, lowest: int = 1) -> str | None:
    return None if lowest <= port <= 65535 else f"{what} must be between 1 and 65535"


class _Stored:
    """``from_value``/``to_value`` over the dataclass's fields, converting by their default's
    type; a missing or unreadable key keeps its default."""

    @classmethod
    def from_value(cls, value: Any):
        values = {}
        for field in fields(cls):
            default = getattr(cls(), field.name)
            try:
                raw = value[field.name]
                values[field.name] = _convert(default, raw, field.name)
            except (KeyError, TypeError, ValueError):
                values[field.name] = default
        return cls(**values)

    def to_value(self) -> dict:
        return {key: (str(value) if isinstance(value, Path) else
                      list(value) if isinstance(value, tuple) else value)
                for key, value in asdict(self).items()}


def _convert(default, raw, name: str):
    if isinstance(default, bool):
        if isinstance(raw, str):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(name)
            return raw.lower() in ("true", "1")
        return bool(raw)
    if isinstance(default, tuple):
        items = [raw] if isinstance(raw, str) else list(raw)
        return tuple(str(item) for item in items if str(item))
    if name.endswith("folder"):
        return Path(raw) if raw else None
    return type(default)(raw)


@dataclass(frozen=True)
class ReceiverSettings(_Stored):
    """The app's DICOM node (``pneumo-receive`` inside the app)."""

    enabled: bool = False
    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    bind: str = DEFAULT_BIND
    allowed_calling_ae: tuple[str, ...] = ()  # empty: any calling AE title
    folder: Path | None = None  # None: default_receive_folder()
    scan_arrivals: bool = True  # scan received films into the worklist as they arrive

    @property
    def receive_folder(self) -> Path:
        return self.folder or default_receive_folder()

    def config(self) -> ReceiverConfig:
        return ReceiverConfig(self.receive_folder, self.ae_title, self.port, self.bind,
                              self.allowed_calling_ae)

    def problems(self) -> list[str]:
        found = [_ae_problem(self.ae_title, "The AE title"),
                 _port_problem(self.port, "The port", lowest=0)]  # 0: any free port
        found += [_ae_problem(title, f"Allowed AE title {title!r}")
                  for title in self.allowed_calling_ae]
        if not self.bind.strip():
            found.append("The address to listen on is empty (0.0.0.0: every address)")
        return [problem for problem in found if problem]


@dataclass(frozen=True)
class DicomResultSettings(_Stored):
    """Where the DICOM results (SC + SR) of a film go."""

    folder: Path | None = None  # None: not set up yet
    pacs_ae_title: str = ""  # empty: written to the folder only
    pacs_host: str = ""
    pacs_port: int = 104

    @property
    def sends_to_pacs(self) -> bool:
        return bool(self.pacs_ae_title and self.pacs_host)

    def node(self):
        from pneumo_desktop.core.dicom_send import DicomNode

        return DicomNode(self.pacs_host, self.pacs_port, self.pacs_ae_title) \
            if self.sends_to_pacs else None

    def problems(self) -> list[str]:
        found = []
        if self.folder is None:
            found.append("No output folder for DICOM results is set (Settings…)")
        if self.pacs_ae_title or self.pacs_host:
            if not (self.pacs_ae_title and self.pacs_host):
                found.append("The PACS needs both an AE title and a host (or neither)")
            found += [_ae_problem(self.pacs_ae_title, "The PACS AE title") if
                      self.pacs_ae_title else None,
                      _port_problem(self.pacs_port, "The PACS port")]
        return [problem for problem in found if problem]


@dataclass(frozen=True)
class WatchSettings(_Stored):
    """How "Watch the scanned folder" tells a film is whole."""

    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    polling: bool = False  # True: poll (a network share); False: the OS's notifications

    def problems(self) -> list[str]:
        return [] if 0.2 <= self.settle_seconds <= 120 else [
            "The settle time must be between 0.2 and 120 seconds"]
