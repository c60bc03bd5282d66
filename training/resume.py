"""A killed training run resumes where it stopped.

Runs take 15-60 minutes on the project's shared 2-core machines, and a run killed at epoch 11
used to start again from epoch 1. While a run trains, ``<out>/.<model>.resume/`` holds:

* Keras' ``BackupAndRestore`` checkpoint (weights, optimizer state and with it the learning
  rate schedule's step, the epoch), written at the end of every epoch;
* ``history.csv``, every finished epoch's metrics (``CSVLogger``, appended across restarts,
  so the history and the learning curves cover the whole run);
* ``best.weights.h5``, the weights of the best epoch so far by validation AUC, so early
  stopping restores the best epoch even when it came before the kill;
* ``config.json``, the run's configuration: a leftover of another configuration is refused
  rather than silently continued.

Running the same command again resumes; the folder is deleted when the run finishes. Resuming is
not bit-identical to an uninterrupted run (the data pipeline's shuffle order restarts).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

from .config import TrainConfig
from .io import atomic_write_json

MONITOR = "val_auc"


class ResumeConflict(RuntimeError):
    """The resume folder belongs to a run with another configuration."""


def _comparable(config: TrainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


class ResumableRun:
    """The resume folder of one training run, and the callbacks that fill it."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.folder = Path(config.out_dir) / f".{config.model_name}.resume"
        self.history_file = self.folder / "history.csv"
        self.best_weights = self.folder / "best.weights.h5"
        config_file = self.folder / "config.json"
        if config_file.exists():
            saved = json.loads(config_file.read_text(encoding="utf-8"))
            if saved != _comparable(config):
                raise ResumeConflict(
                    f"{self.folder} holds a killed run with another configuration; run the "
                    "same command again to resume it, or delete the folder to start afresh"
                )
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(config_file, _comparable(config))

    @property
    def resuming(self) -> bool:
        return bool(self.history())

    def history(self) -> dict[str, list[float]]:
        """Every finished epoch's metrics, in epoch order (a repeated epoch keeps its last)."""
        if not self.history_file.exists():
            return {}
        by_epoch: dict[int, dict] = {}
        with open(self.history_file, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                by_epoch[int(row.pop("epoch"))] = row
        keys = [key for key in next(iter(by_epoch.values()), {})]
        return {key: [float(by_epoch[e][key]) for e in sorted(by_epoch)] for key in keys}

    def callbacks(self) -> list:
        """CSV log, best weights and early stopping before the backup: a kill between them
        repeats an epoch, never loses one."""
        import keras

        callbacks = [keras.callbacks.CSVLogger(str(self.history_file), append=True)]
        patience = self.config.early_stopping_patience
        if patience:
            best, wait = self._best_so_far()
            callbacks += [
                keras.callbacks.ModelCheckpoint(
                    str(self.best_weights), monitor=MONITOR, mode="max", save_best_only=True,
                    save_weights_only=True, initial_value_threshold=best,
                ),
                _resumed_early_stopping(best, wait, patience),
            ]
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(self.folder / "backup"), double_checkpoint=True, delete_checkpoint=False
        ))
        return callbacks

    def _best_so_far(self) -> tuple[float | None, int]:
        """The best monitored value and how many epochs have passed since it."""
        values = self.history().get(MONITOR, [])
        if not values:
            return None, 0
        best_index = max(range(len(values)), key=values.__getitem__)
        return values[best_index], len(values) - 1 - best_index

    def restore_best(self, model) -> None:
        """Load the best epoch's weights (early stopping), if any were kept."""
        if self.config.early_stopping_patience and self.best_weights.exists():
            model.load_weights(str(self.best_weights))

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _resumed_early_stopping(best: float | None, wait: int, patience: int):
    """Keras' EarlyStopping, starting from the best value and the wait of the killed run."""
    import keras

    class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.best, self.wait = best, wait

    return ResumedEarlyStopping(monitor=MONITOR, mode="max", patience=patience)
