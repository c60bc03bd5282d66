"""Helpers of the site-feature widget tests: the fast fake classifier over a hand-made card
(P(pneumonia) follows a film's brightness), films of a chosen score, and a store filled with
reviewed results of a chosen score."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from pneumo_desktop.core.card import ModelCard
from pneumo_desktop.core.results import (
    OperatingPoint,
    Prediction,
    ReviewMark,
    ScanResult,
    ThresholdSource,
    Verdict,
)
from pneumo_desktop.core.store import ResultStore
from tests.cards import card_data, write_card
from tests.fakes import FakeClassifier

FACTORY = OperatingPoint(0.123456, 0.8, ThresholdSource.FACTORY)  # tests/cards.py's card


class RecordingClassifier(FakeClassifier):
    """The fake, noting the thread of each model call."""

    def __init__(self, card: ModelCard) -> None:
        super().__init__(card)
        self.threads: list[str] = []

    def classify_batch(self, model_inputs):
        self.threads.append(threading.current_thread().name)
        return super().classify_batch(model_inputs)


def fake_classifier(folder: Path, **changes) -> RecordingClassifier:
    data = card_data(**changes)
    data["input"]["equalize"] = None  # P follows the film's brightness exactly
    return RecordingClassifier(ModelCard.load(write_card(folder, data)))


def brightness_for(probability: float) -> int:
    """The grey level the fake scores at ``probability`` (logit = 8 * mean - 4)."""
    logit = np.log(probability / (1 - probability))
    return int(round((logit + 4) / 8 * 255))


def write_film(path: Path, probability: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((96, 96), brightness_for(probability), np.uint8)).save(path)
    return path


def reviewed_scan(db_path: Path, card, folder: Path, pneumonia_scores, normal_scores,
                  *, point: OperatingPoint = FACTORY) -> int:
    """A scan of ``card``'s model whose films are reviewed: the pneumonias confirmed, the
    normals confirmed normal (agree or disagree, as the verdict at ``point`` was). The films
    are not on disk (their audit rows have no sha256)."""
    with ResultStore(db_path) as store:
        scan_id = store.start_scan(folder, card, 0)
        films = [(f"p{i}", s, Verdict.PNEUMONIA) for i, s in enumerate(pneumonia_scores)] + \
            [(f"n{i}", s, Verdict.NORMAL) for i, s in enumerate(normal_scores)]
        for name, score, label in films:
            path = str(folder / f"{name}.png")
            prediction = Prediction.under(point, float(score))
            store.record(scan_id, ScanResult.from_prediction(path, prediction))
            if prediction.verdict is label:
                store.set_review(scan_id, path, ReviewMark.AGREE)
            else:
                store.set_review(scan_id, path, ReviewMark.DISAGREE, label)
        store.finish_scan(scan_id)
    return scan_id


def unreviewed_scan(db_path: Path, card, folder: Path, scores,
                    point: OperatingPoint = FACTORY) -> int:
    with ResultStore(db_path) as store:
        scan_id = store.start_scan(folder, card, len(scores))
        for index, score in enumerate(scores):
            store.record(scan_id, ScanResult.from_prediction(
                str(folder / f"u{index}.png"), Prediction.under(point, float(score))))
        store.finish_scan(scan_id)
    return scan_id
