"""The reader's marks on a scanned film (:mod:`.annotations`), kept with its review in the
results database's ``annotations`` table (made by :class:`~.store.ResultStore`'s schema; a
film recorded again, its file changed, loses its marks with its review there).

A store of its own, over its own connection, so that the results store stays what the scan,
the worklist and the reports share; give each thread its own, like ``ResultStore``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from .annotations import Annotation, from_json, to_json
from .store import ResultStore


class AnnotationStore:
    """Marks per (scan, film) in the results database at ``path``."""

    def __init__(self, path: Path | str) -> None:
        ResultStore(path).close()  # makes the database and its tables when new
        # Implicit transactions: ``with self._db`` replaces the marks in one.
        self._db = sqlite3.connect(Path(path), timeout=30)
        self._db.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AnnotationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set(self, scan_id: int, path: str, marks: list[Annotation]) -> None:
        """Keep ``marks`` on a film of the scan, replacing earlier ones; none removes them.
        KeyError when the film is not in the scan."""
        with self._db:
            if not self._db.execute("SELECT 1 FROM results WHERE scan_id=? AND path=?",
                                    (scan_id, path)).fetchone():
                raise KeyError(f"no result for {path} in scan {scan_id}")
            self._db.execute("DELETE FROM annotations WHERE scan_id=? AND path=?",
                             (scan_id, path))
            if marks:
                saved_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                self._db.execute("INSERT INTO annotations VALUES (?, ?, ?, ?)",
                                 (scan_id, path, to_json(marks), saved_at))

    def get(self, scan_id: int, path: str) -> list[Annotation]:
        """The marks kept on a film (empty when none)."""
        row = self._db.execute("SELECT marks FROM annotations WHERE scan_id=? AND path=?",
                               (scan_id, path)).fetchone()
        return from_json(row[0] if row else None)
