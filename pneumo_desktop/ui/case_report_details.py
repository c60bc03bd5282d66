"""What the case PDF needs besides the film: the film's stored review (its note is the
impression, typed in the worklist or the viewer's review bar), the reader's name (a preference,
asked the first time it is needed) and the worklist's anonymise choice.

The viewer's case PDF passes ``**details(film)`` to
:func:`~pneumo_desktop.core.case_report.write_case_report`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QWidget

from pneumo_desktop.ui.preferences import Preferences


class CaseReportDetails(QObject):
    """``details(film)`` -> ``{"review": ..., "reader": ..., "anonymise": ...}``."""

    def __init__(self, preferences: Preferences, worklist, parent: QWidget) -> None:
        """``worklist``: the BatchTab (``result_for_path``, ``exports.anonymise``)."""
        super().__init__(parent)
        self._preferences, self._worklist, self._parent = preferences, worklist, parent
        self._asked = False
        #: Asks the reader's name (None when cancelled); tests replace it.
        self.ask_reader: Callable[[], str | None] = self._ask

    def __call__(self, film: str) -> dict:
        return {"review": self._worklist.result_for_path(str(film)),
                "reader": self.reader_name(),
                "anonymise": self._worklist.exports.anonymise}

    def reader_name(self) -> str:
        """The stored name; asked once (a name given is kept; cancelled, this session goes
        on with a line to sign on)."""
        name = self._preferences.reader_name or ""
        if name or self._asked:
            return name
        self._asked = True
        name = (self.ask_reader() or "").strip()
        if name:
            self._preferences.reader_name = name
        return name

    def _ask(self) -> str | None:
        name, given = QInputDialog.getText(
            self._parent, "Reader's name", "Your name, as it should appear on case reports:")
        return name if given else None
