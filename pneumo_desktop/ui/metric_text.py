"""How the About tab writes numbers: rates as percentages, missing values as a dash."""

from __future__ import annotations

import datetime as dt
import math

RATES = {"accuracy", "sensitivity", "specificity", "precision", "f1",
         "recall_bacteria", "recall_virus", "stress_specificity"}
MISSING = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_rate(value) -> str:
    """0.9871 -> "98.7 %"; a missing or NaN rate -> "—"."""
    return MISSING if _missing(value) else f"{100 * float(value):.1f} %"


def format_metric(key: str, value) -> str:
    """One metric as shown: rates as percentages, AUC as 0.000, the threshold as 0.0000."""
    if _missing(value):
        return MISSING
    if key in RATES:
        return format_rate(value)
    if key == "roc_auc":
        return f"{float(value):.3f}"
    if key == "threshold":
        return f"{float(value):.4f}"
    return str(value)


def format_created(created: str) -> str:
    """An ISO time stamp as "2024-05-06 07:08 UTC"."""
    try:
        return dt.datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M %Z").strip()
    except (TypeError, ValueError):
        return str(created or MISSING)
