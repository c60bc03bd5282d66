"""The user's preferences, typed, over :class:`QSettings`.

Each preference is one :class:`Setting` line in :class:`Preferences`: its key, its type and its
default. Reading never fails: QSettings gives strings back from INI files and whatever an older
version stored, so a value that does not convert is the default (and is logged). To add one,
add a line (the reading workflow will add e.g. ``Setting("viewer/keep_window_level", bool,
False)`` and ``Setting("review/reader_name", str, "")``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from pneumo_desktop.ui.site_settings import DicomResultSettings, ReceiverSettings, WatchSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class LimeSettings:
    """How LIME is run from the viewer: perturbed samples and superpixels outlined."""

    num_samples: int = 1000
    num_features: int = 8

    @classmethod
    def from_value(cls, value: Any) -> LimeSettings:
        """From the stored mapping; missing or unreadable keys keep their default."""
        values = {}
        for key, default in asdict(cls()).items():
            try:
                values[key] = int(value[key])
            except (KeyError, TypeError, ValueError):
                values[key] = default
        return cls(**values)

    def to_value(self) -> dict[str, int]:
        return asdict(self)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):  # INI files give "true"/"false" back
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"not a truth value: {value!r}")
        return value.lower() in ("true", "1")
    return bool(value)


def _convert(kind: type, value: Any):
    if kind is bool:
        return _to_bool(value)
    if kind is QByteArray:
        if not isinstance(value, QByteArray):
            raise TypeError(f"not bytes: {value!r}")
        return value
    if hasattr(kind, "from_value"):
        return kind.from_value(value)
    if kind is Path:
        if not value:
            raise ValueError("empty path")
        return Path(value)
    return kind(value)


def _stored(value: Any):
    if isinstance(value, Path):
        return str(value)
    return value.to_value() if hasattr(value, "to_value") else value


class Setting(Generic[T]):
    """A typed preference: reading gives ``kind`` (or ``default``), writing stores it."""

    def __init__(self, key: str, kind: type[T], default: T | None) -> None:
        self.key, self.kind, self.default = key, kind, default

    def __get__(self, preferences: Preferences | None, owner=None) -> T | None:
        if preferences is None:
            return self  # type: ignore[return-value] - the class attribute itself
        value = preferences.settings.value(self.key)
        if value is None:
            return self.default
        try:
            return _convert(self.kind, value)
        except (TypeError, ValueError) as error:
            log.warning("preference %s unreadable (%s); using its default", self.key, error)
            return self.default

    def __set__(self, preferences: Preferences, value: T | None) -> None:
        if value is None:
            preferences.settings.remove(self.key)
        else:
            preferences.settings.setValue(self.key, _stored(value))


class Preferences:
    """The app's preferences; tests give it their own QSettings file, never the user's."""

    #: Signs the case PDFs (asked the first time: ui/case_report_details.py).
    reader_name = Setting("review/reader_name", str, "")
    window_geometry = Setting("window/geometry", QByteArray, None)
    last_image_folder = Setting("last_image_folder", Path, None)
    last_scan_folder = Setting("last_scan_folder", Path, None)
    lime = Setting("lime", LimeSettings, LimeSettings())
    # The clinic's receiver, DICOM results and folder watch (ui/site_settings.py).
    receiver = Setting("receiver", ReceiverSettings, ReceiverSettings())
    dicom_results = Setting("dicom_results", DicomResultSettings, DicomResultSettings())
    watch = Setting("watch", WatchSettings, WatchSettings())
    #: The window/level (and invert) chosen on one film stays for the next one.
    keep_window_level = Setting("viewer/keep_window_level", bool, True)

    def __init__(self, settings: QSettings | None = None) -> None:
        #: The user's settings of this application unless given (see QSettings' defaults).
        self.settings = settings if settings is not None else QSettings()

    def sync(self) -> None:
        self.settings.sync()
