"""CSV export of scan results, written atomically."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

CSV_COLUMNS = ("path", "status", "probability", "prediction", "message")


def result_row(result) -> dict:
    probability = result.probability
    return {
        "path": result.path,
        "status": result.status,
        "probability": "" if probability is None else f"{probability:.6f}",
        "prediction": result.prediction or "",
        "message": result.message,
    }


class AtomicCsvWriter:
    """Rows go to a temp file beside the target; :meth:`commit` renames it into place, so the
    target is either the previous file or a complete new one."""

    def __init__(self, path: Path, columns: Iterable[str] = CSV_COLUMNS):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        self._handle = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=list(columns))
        self._writer.writeheader()

    def write(self, row: dict) -> None:
        self._writer.writerow(row)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._handle.close()
        Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> "AtomicCsvWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_csv(path: Path, results: Iterable) -> None:
    with AtomicCsvWriter(path) as writer:
        for result in results:
            writer.write(result_row(result))
