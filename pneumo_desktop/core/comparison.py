"""The comparison of every trained model (``models/comparison.json``, written by
``python -m training compare``), read typed for the About tab."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .card_types import Rates


@dataclass(frozen=True)
class ComparisonRow(Rates):
    """One model on the test set, at its own operating threshold."""

    model: str
    split: str
    threshold: float
    threshold_rule: str
    stress_specificity: float | None
    train_minutes: float
    epochs: int


@dataclass(frozen=True)
class Comparison:
    rows: tuple[ComparisonRow, ...]
    notes: tuple[str, ...]


def load_comparison(models_dir: Path) -> Comparison:
    """``comparison.json`` of ``python -m training compare``: every trained model on test.
    Raises FileNotFoundError, or ValueError when the file is unreadable."""
    path = Path(models_dir) / "comparison.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = tuple(
            ComparisonRow(**{key: row.get(key) for key in ComparisonRow.__dataclass_fields__})
            for row in data["models"]
        )
        notes = tuple(str(note) for note in data.get("notes", []))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{type(error).__name__}: {error}") from None
    return Comparison(rows, notes)
