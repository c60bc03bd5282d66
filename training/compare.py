"""The comparison table of every trained model, from the cards in ``models/``."""

from __future__ import annotations

import json
from pathlib import Path

from .io import atomic_write_bytes, atomic_write_json

COLUMNS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")


def load_cards(models_dir: Path) -> list[dict]:
    cards = []
    for path in sorted(Path(models_dir).glob("*.card.json")):
        cards.append(json.loads(path.read_text(encoding="utf-8")))
    return cards


def comparison_rows(cards: list[dict]) -> list[dict]:
    rows = []
    for card in cards:
        test = card["metrics"]["test"]["at_operating_threshold"]
        rows.append(
            {
                "model": card["name"],
                "threshold": card["threshold"]["value"],
                "threshold_rule": card["threshold"]["chosen_on"],
                "split": card["data"]["split"],
                **{column: test[column] for column in COLUMNS},
                "train_minutes": round(card["training"]["seconds"] / 60, 1),
                "epochs": card["training"]["epochs_run"],
            }
        )
    return rows


def write_comparison(models_dir: Path, notes: list[str] | None = None) -> list[dict]:
    """Write ``comparison.json`` and ``comparison.md``; ``notes`` lists models not trained."""
    models_dir = Path(models_dir)
    rows = comparison_rows(load_cards(models_dir))
    atomic_write_json(models_dir / "comparison.json", {"models": rows, "notes": notes or []})
    header = ["model", "split", "threshold", *COLUMNS, "train min", "epochs"]
    lines = [
        "# Model comparison on the 624-image test set",
        "",
        "Each model at its card's operating threshold (chosen on validation, never on test).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [row["model"], row["split"], f"{row['threshold']:.4f}"]
        cells += [f"{row[column]:.3f}" for column in COLUMNS]
        cells += [f"{row['train_minutes']}", str(row["epochs"])]
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    atomic_write_bytes(models_dir / "comparison.md", ("\n".join(lines) + "\n").encode())
    return rows
