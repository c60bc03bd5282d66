"""The comparison table of every trained model, from the cards in ``models/``."""

from __future__ import annotations

import json
from pathlib import Path

from .io import atomic_write_bytes, atomic_write_json
from .stress import stress_specificity

COLUMNS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")


def load_cards(models_dir: Path) -> list[dict]:
    """The bundled model's card, then those in ``models/zoo/``: the other models' cards are
    kept for the comparison, their model files are not (they are not shipped, and the
    ``cnn`` model alone is 60 MB; ``python -m training all`` regenerates them)."""
    models_dir = Path(models_dir)
    paths = sorted(models_dir.glob("*.card.json")) + sorted(models_dir.glob("zoo/*.card.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


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
                "stress_specificity": (
                    round(stress_specificity(card["stress"]["shifts"]), 3)
                    if "stress" in card else None
                ),
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
    header = ["model", "split", "threshold", *COLUMNS, "stress spec.", "train min", "epochs"]
    lines = [
        "# Model comparison on the 624-image test set",
        "",
        "Each model at its card's operating threshold (chosen on validation, never on test). "
        "*stress spec.*: validation specificity averaged over the acquisition changes of "
        "`python -m training stress` (validation films only; — where not measured).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [row["model"], row["split"], f"{row['threshold']:.4f}"]
        cells += [f"{row[column]:.3f}" for column in COLUMNS]
        stress = row["stress_specificity"]
        cells += ["—" if stress is None else f"{stress:.3f}"]
        cells += [f"{row['train_minutes']}", str(row["epochs"])]
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    atomic_write_bytes(models_dir / "comparison.md", ("\n".join(lines) + "\n").encode())
    return rows
