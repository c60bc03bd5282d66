from pathlib import Path

import numpy as np
import pytest

from tests.conftest import real_data_dir
from training import data
from training.evaluate import binary_metrics, choose_threshold


@pytest.mark.parametrize(
    ("name", "patient", "subtype"),
    [
        ("person1000_bacteria_2931.jpeg", "P1000", "bacteria"),
        ("person100_virus_184.jpeg", "P100", "virus"),
        ("person1_virus_13_1.jpeg", "P1", "virus"),
        ("IM-0115-0001.jpeg", "N115", "normal"),
        ("NORMAL2-IM-0115-0001-0002.jpeg", "N115", "normal"),
    ],
)
def test_patient_and_subtype_from_file_name(name, patient, subtype):
    assert data.patient_and_subtype(name) == (patient, subtype)


def test_unknown_file_name_is_refused():
    with pytest.raises(ValueError, match="patient id"):
        data.patient_and_subtype("scan.jpeg")


def _records(n_patients: int, images_each: int) -> list[data.Record]:
    records = []
    for patient in range(n_patients):
        for image in range(images_each):
            subtype = ("normal", "bacteria", "virus")[patient % 3]
            label = int(subtype != "normal")
            records.append(data.Record(f"/x/{patient}_{image}.jpeg", label, subtype, f"P{patient}"))
    return records


def test_patient_split_keeps_each_patient_on_one_side():
    records = _records(90, 4)
    train, val = data.split_validation(records, 0.1, seed=3)
    assert len(train) + len(val) == len(records)
    assert not {r.patient for r in train} & {r.patient for r in val}
    assert {r.subtype for r in val} == {"normal", "bacteria", "virus"}
    # Seeded: the same seed gives the same split, another seed another one.
    assert data.split_validation(records, 0.1, seed=3)[1] == val
    assert data.split_validation(records, 0.1, seed=4)[1] != val


def test_earliest_split_holds_out_the_lowest_patient_numbers_per_subtype():
    records = _records(90, 4)
    train, val = data.split_validation(records, 0.1, seed=3, by="patient_earliest")
    assert not {r.patient for r in train} & {r.patient for r in val}
    for subtype in ("normal", "bacteria", "virus"):
        held_out = {data.patient_number(r.patient) for r in val if r.subtype == subtype}
        kept = {data.patient_number(r.patient) for r in train if r.subtype == subtype}
        assert held_out and max(held_out) < min(kept)
    # No randomness: every seed gives the same hold-out.
    assert data.split_validation(records, 0.1, seed=4, by="patient_earliest")[1] == val


def _normal_series_records() -> list[data.Record]:
    """Normals in two series numbered independently (IM-* from 100, NORMAL2-* from 400)."""
    records = []
    for number in range(100, 140):
        records.append(data.Record(f"/x/IM-{number:04d}-0001.jpeg", 0, "normal", f"N{number}"))
    for number in range(400, 430):
        name = f"/x/NORMAL2-IM-{number:04d}-0001.jpeg"
        records.append(data.Record(name, 0, "normal", f"N{number}"))
    for number in range(50):
        subtype = ("bacteria", "virus")[number % 2]
        records.append(data.Record(f"/x/person{number}_{subtype}_1.jpeg", 1, subtype, f"P{number}"))
    return records


def test_earliest_split_per_series_validates_on_both_normal_series():
    records = _normal_series_records()
    # The plain earliest hold-out takes every normal from the lower-numbered series ...
    _, plain_val = data.split_validation(records, 0.1, seed=1, by="patient_earliest")
    assert {data.stratum(r) for r in plain_val if r.label == 0} == {"normal/IM"}
    # ... the per-series one takes the earliest 10% of each series.
    train, val = data.split_validation(records, 0.1, seed=1, by="patient_earliest_series")
    assert not {r.patient for r in train} & {r.patient for r in val}
    held_out = {data.stratum(r): [] for r in val}
    for r in val:
        held_out[data.stratum(r)].append(data.patient_number(r.patient))
    assert sorted(held_out["normal/IM"]) == [100, 101, 102, 103]
    assert sorted(held_out["normal/NORMAL2"]) == [400, 401, 402]
    assert set(held_out) == {"normal/IM", "normal/NORMAL2", "bacteria", "virus"}


def test_real_training_set_split_has_no_shared_patient():
    root = real_data_dir()
    records = data.list_split(root / "train")
    train, val = data.split_validation(records, 0.1, seed=1337)
    assert len(records) == 5216
    assert not {r.patient for r in train} & {r.patient for r in val}
    assert 0.08 < len({r.patient for r in val}) / len({r.patient for r in records}) < 0.13
    # The bundled model's split validates on both normal series, with no patient shared.
    train, val = data.split_validation(records, 0.1, seed=1337, by="patient_earliest_series")
    assert not {r.patient for r in train} & {r.patient for r in val}
    normals = [data.stratum(r) for r in val if r.label == 0]
    assert normals.count("normal/IM") > 50 and normals.count("normal/NORMAL2") > 50


def test_class_weights_balance_the_loss():
    records = _records(30, 1)  # 10 normal, 20 pneumonia
    weights = data.class_weights(records)
    assert weights[0] * 10 == pytest.approx(weights[1] * 20)


def test_threshold_is_highest_meeting_the_target_sensitivity():
    labels = np.array([1] * 100 + [0] * 50)
    probs = np.concatenate([np.linspace(0.01, 1.0, 100), np.linspace(0.0, 0.5, 50)])
    threshold = choose_threshold(labels, probs, 0.99)
    sensitivity = binary_metrics(labels, probs, threshold)["sensitivity"]
    assert sensitivity >= 0.99
    # Any higher candidate would miss more than 1% of the pneumonia cases.
    higher = np.sort(probs[labels == 1])[2]
    assert binary_metrics(labels, probs, higher)["sensitivity"] < 0.99


def test_metrics_match_a_hand_count():
    labels = [0, 0, 0, 1, 1, 1, 1]
    probs = [0.1, 0.6, 0.2, 0.9, 0.4, 0.8, 0.7]
    result = binary_metrics(labels, probs, 0.5, ["normal"] * 3 + ["bacteria", "virus"] * 2)
    assert result["confusion_matrix"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 3}
    assert result["sensitivity"] == pytest.approx(0.75)
    assert result["specificity"] == pytest.approx(2 / 3)
    assert result["recall_virus"] == pytest.approx(0.5)
    assert result["recall_bacteria"] == pytest.approx(1.0)


def test_list_split_reads_the_kaggle_layout(tiny_data_dir: Path):
    records = data.list_split(tiny_data_dir / "train")
    assert {r.label for r in records} == {0, 1}
    assert all(Path(r.path).exists() for r in records)


def test_mixup_blends_pixels_labels_and_class_weights_alike():
    import tensorflow as tf

    tf.random.set_seed(7)
    labels = tf.constant([0.0, 1.0] * 8)
    # Each film is flat at 255 * label, so a blended film's value tells its blended label.
    images = tf.reshape(labels, (-1, 1, 1, 1)) * tf.fill((16, 4, 4, 1), 255.0)
    mixed, mixed_labels, weights = data.mix_batch(images, labels, 0.4, {0: 2.0, 1: 0.5})
    mixed_labels = mixed_labels.numpy()
    assert mixed.shape == images.shape
    np.testing.assert_allclose(mixed.numpy()[:, 0, 0, 0] / 255.0, mixed_labels, atol=1e-5)
    np.testing.assert_allclose(weights.numpy(), 2.0 - 1.5 * mixed_labels, atol=1e-5)
    assert np.all((mixed_labels >= 0) & (mixed_labels <= 1))
    assert np.any((mixed_labels > 0.01) & (mixed_labels < 0.99))  # something was blended
