import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import synthetic_xray
from training import data, stress
from training.__main__ import main as training_main
from training.io import sha256_of


@pytest.fixture()
def films(tmp_path) -> list[data.Record]:
    rng = np.random.default_rng(5)
    records = []
    for index in range(6):
        pneumonia = index % 2 == 1
        path = tmp_path / f"film{index}.png"
        Image.fromarray(synthetic_xray(rng, pneumonia, size=300)).save(path)
        subtype = "bacteria" if pneumonia else "normal"
        records.append(data.Record(str(path), int(pneumonia), subtype, f"P{index}"))
    return records


def test_unchanged_render_is_what_training_feeds_and_every_shift_keeps_the_size(films):
    path = films[0].path
    np.testing.assert_array_equal(
        data.pillow_equalized(path, stress.acquisition_shifts()["unchanged"]),
        data.pillow_equalized(path),
    )
    for name, shift in stress.acquisition_shifts().items():
        assert data.pillow_equalized(path, shift).shape == (224, 224, 1), name
    zoom_in = stress.acquisition_shifts()["zoomed in (x1.22 both ways)"]
    shifted = data.pillow_equalized(path, zoom_in)
    assert not np.array_equal(shifted, data.pillow_equalized(path))


class TopRowsModel:
    """Reads only the top tenth of the film: a caricature of a network that looks at framing."""

    def predict(self, films, batch_size=None, verbose=0):
        return films[:, :22].mean(axis=(1, 2, 3)) / 255.0


def test_report_counts_flags_per_shift_and_exposes_a_framing_reader(films):
    model = TopRowsModel()
    unchanged = np.stack([data.pillow_equalized(record.path) for record in films])
    probabilities = model.predict(unchanged)
    labels = np.array([record.label for record in films])
    threshold = float(np.median(probabilities))

    report = stress.stress_report(model, films, threshold)

    assert list(report) == list(stress.acquisition_shifts())
    row = report["unchanged"]
    assert row["normals_flagged"] == pytest.approx((probabilities[labels == 0] >= threshold).mean())
    caught = (probabilities[labels == 1] >= threshold).mean()
    assert row["pneumonia_caught"] == pytest.approx(caught)
    medians = {name: row["median_p_normal"] for name, row in report.items()}
    # Zooming in moves what the top rows hold; sharpening the same framing barely does.
    zoom_change = abs(medians["zoomed in (x1.22 both ways)"] - medians["unchanged"])
    jpeg_change = abs(medians["JPEG quality 30"] - medians["unchanged"])
    assert zoom_change > 5 * jpeg_change


def test_stress_command_reports_on_the_cards_validation_split(
    tiny_models_dir, tiny_data_dir, tmp_path
):
    models = tmp_path / "models"  # a copy: --card rewrites the card of the session's model
    shutil.copytree(tiny_models_dir, models)
    card = json.loads((models / "cnn_deep_aug.card.json").read_text())
    out = tmp_path / "stress.json"
    model_file = models / "cnn_deep_aug.keras"
    status = training_main([
        "stress", "--model-file", str(model_file), "--data-dir", str(tiny_data_dir),
        "--json", str(out), "--card",
    ])
    assert status == 0
    report = json.loads(out.read_text())
    assert report["validation_images"] == card["data"]["validation"]["total"]
    assert report["threshold"] == card["threshold"]["value"]
    assert set(report["shifts"]) == set(stress.acquisition_shifts())
    for row in report["shifts"].values():
        assert 0.0 <= row["normals_flagged"] <= 1.0 and 0.0 <= row["pneumonia_caught"] <= 1.0
    # --card records it for the app's About tab; the model file and its checksum stay as they were.
    card_path = models / "cnn_deep_aug.card.json"
    updated = json.loads(card_path.read_text())
    assert updated["stress"]["shifts"] == report["shifts"]
    assert updated["sha256"] == card["sha256"] == sha256_of(model_file)
    assert "stress" not in card
