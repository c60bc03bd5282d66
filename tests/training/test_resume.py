import json

import keras
import pytest

from training.config import config_for
from training.resume import ResumableRun, ResumeConflict
from training.train import train


class Killed(Exception):
    """Stands for the process being killed once an epoch's backup is on disk."""


def kill_after_epoch(epoch_number: int):
    class KillAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == epoch_number:
                raise Killed()

    return KillAfterEpoch()


@pytest.mark.slow  # two tiny training runs: ~80 s on the shared 2-core machine
def test_a_killed_run_resumes_after_its_last_finished_epoch(
    tiny_data_dir, tmp_path, monkeypatch, capsys
):
    config = config_for("cnn_deep_aug", data_dir=tiny_data_dir, out_dir=tmp_path, epochs=4,
                        batch_size=8, early_stopping_patience=10)
    original = ResumableRun.callbacks
    # The kill comes after every callback of the run, the backup included, as a real kill
    # between two epochs would.
    monkeypatch.setattr(ResumableRun, "callbacks",
                        lambda self: original(self) + [kill_after_epoch(2)])
    with pytest.raises(Killed):
        train(config, log=lambda message: None)
    before_kill = ResumableRun(config).history()
    assert len(before_kill["loss"]) == 2
    assert not (tmp_path / "cnn_deep_aug.keras").exists()
    capsys.readouterr()

    monkeypatch.setattr(ResumableRun, "callbacks", original)
    messages = []
    card = train(config, log=messages.append)

    printed = capsys.readouterr().out
    assert "Epoch 3/4" in printed and "Epoch 1/4" not in printed
    assert any("resuming after epoch 2" in message for message in messages)
    history = json.loads((tmp_path / "cnn_deep_aug.history.json").read_text())
    assert len(history["loss"]) == card["training"]["epochs_run"] == 4
    assert history["loss"][:2] == before_kill["loss"]
    assert not (tmp_path / ".cnn_deep_aug.resume").exists()  # a finished run leaves none


def test_a_leftover_of_another_configuration_is_refused(tmp_path):
    ResumableRun(config_for("cnn_deep_aug", out_dir=tmp_path, epochs=4))
    with pytest.raises(ResumeConflict, match="another configuration"):
        ResumableRun(config_for("cnn_deep_aug", out_dir=tmp_path, epochs=5))


def test_early_stopping_resumes_with_the_best_epoch_and_the_wait_so_far(tmp_path):
    run = ResumableRun(config_for("cnn_deep_aug", out_dir=tmp_path))
    # Epoch 1 was cut off and repeated after a kill: its last row counts.
    run.history_file.write_text(
        "epoch,loss,val_auc\n0,0.9,0.80\n1,0.7,0.90\n1,0.6,0.93\n2,0.5,0.91\n3,0.4,0.92\n"
    )
    assert run.history() == {"loss": [0.9, 0.6, 0.5, 0.4], "val_auc": [0.80, 0.93, 0.91, 0.92]}
    assert run._best_so_far() == (0.93, 2)
    stopping = [c for c in run.callbacks() if isinstance(c, keras.callbacks.EarlyStopping)][0]
    stopping.on_train_begin()
    assert (stopping.best, stopping.wait) == (0.93, 2)
