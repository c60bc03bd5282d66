import json
import shutil

import numpy as np
import pytest

from pneumo_desktop.core import engine
from pneumo_desktop.core.model import (
    Classifier,
    ClassifierProtocol,
    ModelChecksumError,
    ModelError,
    model_input,
)
from pneumo_desktop.core.results import Status
from tests.conftest import MODELS_DIR


def test_classify_batch_gives_one_prediction_per_film_as_one_by_one(tiny_classifier):
    images = np.random.default_rng(0).uniform(0, 255, (5, 224, 224, 1)).astype(np.float32)
    batch = tiny_classifier.classify_batch(images)
    one_by_one = [tiny_classifier.classify(image) for image in images]
    assert len(batch) == 5 and tiny_classifier.classify_batch(images[:0]) == []
    np.testing.assert_allclose([p.probability for p in batch],
                               [p.probability for p in one_by_one], atol=1e-6)
    assert all(0.0 <= p.probability <= 1.0 for p in batch)
    assert isinstance(tiny_classifier, ClassifierProtocol)


def test_label_follows_the_card_threshold(tiny_classifier):
    threshold = tiny_classifier.threshold
    assert tiny_classifier.operating_point.verdict(threshold) == "PNEUMONIA"
    assert tiny_classifier.operating_point.verdict(np.nextafter(threshold, 0)) == "NORMAL"


def test_device_names_the_provider_onnxruntime_runs(tiny_classifier):
    session_provider = tiny_classifier.engine.session.get_providers()[0]
    assert tiny_classifier.provider == session_provider
    assert tiny_classifier.device == engine.DEVICE_NAMES[session_provider]
    if session_provider == engine.CPU:
        assert tiny_classifier.provider_notice.endswith("computing on the CPU")


@pytest.mark.parametrize(
    ("available", "platform", "force_cpu", "expected"),
    [
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "linux", False,
         ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "linux", True,
         ["CPUExecutionProvider"]),
        (["DmlExecutionProvider", "CPUExecutionProvider"], "win32", False,
         ["DmlExecutionProvider", "CPUExecutionProvider"]),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "win32", False,
         ["CPUExecutionProvider"]),
        (["AzureExecutionProvider", "CPUExecutionProvider"], "linux", False,
         ["CPUExecutionProvider"]),
        (["CPUExecutionProvider"], "darwin", False, ["CPUExecutionProvider"]),
    ],
)
def test_providers_are_chosen_per_platform(available, platform, force_cpu, expected):
    assert engine.choose_providers(available, platform, force_cpu) == expected


def test_a_gpu_provider_that_cannot_start_falls_back_to_the_cpu_with_a_notice(
    tiny_models_dir, monkeypatch
):
    """onnxruntime is asked for CUDA (as on a Linux PC with onnxruntime-gpu) on a machine that
    cannot run it: the classifier still loads, on the CPU, and says so in one line."""
    import onnxruntime

    real = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" in real:
        pytest.skip("this machine has a working CUDA provider")
    monkeypatch.setattr(engine.sys, "platform", "linux")
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", *real])
    classifier = Classifier(tiny_models_dir)
    assert classifier.provider == "CPUExecutionProvider" and classifier.device == "CPU"
    assert classifier.provider_notice == (
        "CUDAExecutionProvider could not start; computing on the CPU")
    monkeypatch.setenv(engine.PROVIDER_ENV, "cpu")
    assert Classifier(tiny_models_dir).provider_notice == (
        "no GPU provider installed (CUDAExecutionProvider); computing on the CPU")


@pytest.fixture
def models_copy(tiny_models_dir, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(tiny_models_dir, copy)
    return copy


def test_a_graph_that_does_not_match_its_card_is_refused(models_copy):
    with open(models_copy / "cnn_deep_aug.onnx", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelChecksumError, match="does not match its model card"):
        Classifier(models_copy)


def test_a_graph_exported_from_another_model_is_refused(models_copy):
    path = models_copy / "cnn_deep_aug.card.json"
    card = json.loads(path.read_text())
    card["onnx"]["source_sha256"] = "0" * 64
    path.write_text(json.dumps(card))
    with pytest.raises(ModelChecksumError, match="exported from another model"):
        Classifier(models_copy)


def test_a_card_naming_outputs_the_graph_lacks_is_refused(models_copy):
    path = models_copy / "cnn_deep_aug.card.json"
    card = json.loads(path.read_text())
    card["onnx"]["outputs"]["logit"] = "log_odds"
    path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"outputs \['log_odds'\].*reinstall"):
        Classifier(models_copy)


def test_a_card_without_the_graph_is_refused(models_copy):
    path = models_copy / "cnn_deep_aug.card.json"
    card = json.loads(path.read_text())
    del card["onnx"]
    path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="onnx is missing.*python -m training export"):
        Classifier(models_copy)


def test_the_keras_file_is_not_needed(models_copy):
    (models_copy / "cnn_deep_aug.keras").unlink()
    film = np.full((224, 224, 1), 100, np.float32)
    assert Classifier(models_copy).classify(film).status in (Status.OK, Status.NOT_XRAY)


def test_missing_card_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="model card not found"):
        Classifier(tmp_path)


def test_bundled_model_loads_verified():
    classifier = Classifier(MODELS_DIR)  # verifies every sha256 against the card
    assert classifier.card.name == "cnn_deep_aug" and classifier.input_size == 224
    assert classifier.engine.session.get_inputs()[0].shape[1:] == [224, 224, 1]
    assert classifier.heads is not None
    assert classifier.operating_point.likely_threshold == classifier.card.likely_threshold


@pytest.mark.parametrize(("size", "suffix"), [((224, 224), ".jpeg"), ((300, 410), ".png")])
def test_app_preprocessing_matches_training(tmp_path, tiny_classifier, size, suffix):
    """The app feeds the model exactly the pixels the training pipeline fed it."""
    from PIL import Image

    from pneumo_desktop.core.imaging import load_image
    from tests.conftest import synthetic_xray
    from training.data import pillow_equalized

    spec = tiny_classifier.card.input_spec
    assert spec.equalize
    pixels = synthetic_xray(np.random.default_rng(4), True, size=max(size))[: size[1], : size[0]]
    path = tmp_path / f"film{suffix}"
    Image.fromarray(pixels).convert("RGB").save(path)
    app_input = model_input(load_image(path, min_side=224).pixels, spec)
    np.testing.assert_array_equal(app_input, pillow_equalized(str(path).encode()))
    np.testing.assert_array_equal(tiny_classifier.prepare(load_image(path, min_side=224)),
                                  app_input)
    assert app_input.shape == (224, 224, 1) and app_input.max() == 255


def test_a_fake_that_keeps_the_protocol_serves_scans_and_explanations(tmp_path):
    """Core code asks a classifier only what ClassifierProtocol promises: a fake that calls
    films by brightness scans a folder and gets a Grad-CAM on its bright patch."""
    from PIL import Image

    from pneumo_desktop.core.card import ModelCard
    from pneumo_desktop.core.explain import gradcam
    from pneumo_desktop.core.results import Verdict
    from pneumo_desktop.core.scan import scan_files
    from tests.cards import card_data, write_card
    from tests.fakes import FakeClassifier
    from tests.synthetic_models import film_with_patch

    data = card_data()
    data["input"]["equalize"] = None
    fake = FakeClassifier(ModelCard.load(write_card(tmp_path / "card", data)))
    assert isinstance(fake, ClassifierProtocol)
    for name, value in (("dark.png", 20), ("bright.png", 230)):
        Image.fromarray(np.full((300, 240), value, np.uint8)).save(tmp_path / name)
    results = {r.path.rsplit("/", 1)[-1]: r
               for r in scan_files([tmp_path / "dark.png", tmp_path / "bright.png"], fake)}
    assert results["dark.png"].probability < fake.threshold < results["bright.png"].probability
    assert fake.classify(fake.prepare(np.full((224, 224), 230, np.uint8))).verdict is (
        Verdict.PNEUMONIA)
    cam = gradcam(fake, film_with_patch((50, 170)))
    row, col = np.unravel_index(np.argmax(cam), cam.shape)
    assert abs(row - 50) < 16 and abs(col - 170) < 16
