"""python -m training export: the ONNX graph the app runs gives Keras' numbers."""

import json
import shutil

import numpy as np
import pytest

from tests.conftest import MODELS_DIR, real_data_dir, synthetic_xray
from tests.synthetic_models import brightness_model, film_with_patch
from training.__main__ import main as training_main
from training.export import (
    MAX_PROBABILITY_DIFFERENCE,
    ExportError,
    export_keras_model,
    graph_layers,
)
from training.io import sha256_of

RELATIVE = 1e-4  # features and maps, relative to the output's largest value


def keras_and_onnx(models_dir, films: np.ndarray, names=("probability", "features")):
    """Keras' and onnxruntime's outputs of ``models_dir``'s model for ``films``."""
    import keras
    import onnxruntime as ort

    card = json.loads((models_dir / "cnn_deep_aug.card.json").read_text())
    model = keras.models.load_model(models_dir / card["model_file"], compile=False)
    layers = graph_layers(model)
    extractor = keras.Model(model.input, [model.output, layers.features.output]
                            + [block.output for _, block in layers.feature_maps])
    keras_values = [np.asarray(v) for v in extractor(films, training=False)]
    expected = {"probability": keras_values[0].reshape(-1), "features": keras_values[1]}
    expected.update({f"maps/{name}": value for (name, _), value in
                     zip(layers.feature_maps, keras_values[2:], strict=True)})
    session = ort.InferenceSession(str(models_dir / card["onnx"]["file"]),
                                   providers=["CPUExecutionProvider"])
    got = dict(zip(list(expected), session.run(list(expected), {"image": films}), strict=True))
    return expected, got


def assert_parity(expected: dict, got: dict,
                  probability: float = MAX_PROBABILITY_DIFFERENCE) -> None:
    np.testing.assert_allclose(got["probability"], expected["probability"], rtol=0,
                               atol=probability)
    for name, value in expected.items():
        if name != "probability":
            scale = max(1.0, float(np.abs(value).max()))
            assert np.abs(got[name] - value).max() / scale < RELATIVE, name


def test_training_exports_the_graph_and_records_it(tiny_models_dir):
    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    onnx = card["onnx"]
    assert onnx["opset"] == 17 and onnx["source_sha256"] == card["sha256"]
    assert onnx["sha256"] == sha256_of(tiny_models_dir / onnx["file"])
    assert [m["layer"] for m in onnx["outputs"]["feature_maps"]] == [
        "conv1", "conv2", "conv3", "conv4", "conv5"]
    assert [h["activation"] for h in onnx["head"]] == ["relu", "relu", "sigmoid"]
    assert onnx["parity"]["max_abs_probability"] <= MAX_PROBABILITY_DIFFERENCE


def test_the_graph_gives_keras_numbers_on_made_films(tiny_models_dir):
    rng = np.random.default_rng(5)
    films = np.stack([synthetic_xray(rng, index % 2 == 0, size=224) for index in range(6)])
    films = films[..., None].astype(np.float32)
    expected, got = keras_and_onnx(tiny_models_dir, films)
    assert_parity(expected, got)


def test_the_bundled_graph_gives_keras_numbers_on_real_films():
    from training.data import list_split, pillow_equalized

    records = list_split(real_data_dir() / "test", limit_per_class=8)
    films = np.stack([pillow_equalized(record.path) for record in records])
    card = json.loads((MODELS_DIR / "cnn_deep_aug.card.json").read_text())
    assert card["onnx"]["source_sha256"] == card["sha256"] == sha256_of(
        MODELS_DIR / card["model_file"])
    expected, got = keras_and_onnx(MODELS_DIR, films)
    # The bundled model holds a tighter limit than an export must: it measured |dP| 8e-7.
    assert_parity(expected, got, probability=1e-5)
    # Most of them away from saturation, where a difference in P would show.
    unsaturated = (expected["probability"] > 0.001) & (expected["probability"] < 0.999)
    assert unsaturated.mean() >= 0.5


@pytest.mark.data
def test_the_624_test_films_score_as_in_keras_and_the_card():
    """The app's probabilities are Keras' within 1e-4 on the whole test set, and the card's
    test metrics (computed by training with Keras) are what the app's numbers give."""
    import keras
    import onnxruntime as ort

    from training.card import Scored, metric_points, read_card
    from training.data import list_split, pillow_equalized

    records = list_split(real_data_dir() / "test")
    films = np.stack([pillow_equalized(record.path) for record in records])
    card = read_card(MODELS_DIR / "cnn_deep_aug.card.json")
    model = keras.models.load_model(MODELS_DIR / card["model_file"], compile=False)
    keras_p = np.concatenate([np.asarray(model(films[i:i + 64], training=False)).reshape(-1)
                              for i in range(0, len(films), 64)])
    session = ort.InferenceSession(str(MODELS_DIR / card["onnx"]["file"]),
                                   providers=["CPUExecutionProvider"])
    onnx_p = np.concatenate([session.run(["probability"], {"image": films[i:i + 64]})[0]
                             for i in range(0, len(films), 64)])
    assert len(onnx_p) == 624
    np.testing.assert_allclose(onnx_p, keras_p, rtol=0, atol=1e-4)
    threshold = card["threshold"]
    points = metric_points(Scored.of(records, onnx_p), threshold["value"],
                           threshold["likely"]["value"])
    for point, metrics in points.items():
        stored = card["metrics"]["test"][point]
        assert metrics["confusion_matrix"] == stored["confusion_matrix"], point
        assert metrics["roc_auc"] == pytest.approx(stored["roc_auc"], abs=1e-4)


def test_a_framing_layer_is_exported_as_frame_box(tmp_path):
    box = (0.1, 0.5, 0.6, 1.0)
    films = np.stack([film_with_patch((60, 170)), film_with_patch((150, 50))])
    section = export_keras_model(brightness_model(box), tmp_path / "framed.onnx", films)
    assert section["outputs"]["frame_box"] == "frame_box"
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "framed.onnx"),
                                   providers=["CPUExecutionProvider"])
    boxes = session.run(["frame_box"], {"image": films})[0]
    np.testing.assert_allclose(boxes, [box, box], atol=1e-7)
    plain = export_keras_model(brightness_model(), tmp_path / "plain.onnx", films)
    assert plain["outputs"]["frame_box"] is None


def test_parity_refuses_a_graph_whose_probability_differs_and_allows_rounding(tiny_models_dir):
    """The check can fail: a P off by twice the limit is refused, half the limit passes."""
    import onnxruntime as ort

    from training.export import check_parity

    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    onnx_bytes = (tiny_models_dir / card["onnx"]["file"]).read_bytes()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    films = np.stack([synthetic_xray(np.random.default_rng(i), i % 2 == 0, size=224)
                      for i in range(2)])[..., None].astype(np.float32)

    def shifted_by(shift: float):
        def forward(images):
            outputs = dict(zip(names, session.run(None, {"image": images}), strict=True))
            # Toward 0.5 so the shifted P stays a probability.
            outputs["probability"] = outputs["probability"] + np.where(
                outputs["probability"] < 0.5, shift, -shift).astype(np.float32)
            return outputs
        return forward

    parity = check_parity(shifted_by(MAX_PROBABILITY_DIFFERENCE / 2), onnx_bytes, films)
    assert parity["max_abs_probability"] == pytest.approx(MAX_PROBABILITY_DIFFERENCE / 2,
                                                          rel=0.05)
    with pytest.raises(ExportError, match="onnxruntime disagrees with Keras"):
        check_parity(shifted_by(2 * MAX_PROBABILITY_DIFFERENCE), onnx_bytes, films)


def test_a_model_the_app_cannot_explain_is_not_exported(tmp_path):
    import keras
    from keras import layers

    inputs = keras.Input((224, 224, 1))
    x = layers.Conv2D(2, 3, activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D(name="pooled")(x)
    no_gap = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    with pytest.raises(ExportError, match="no layer named 'gap'"):
        graph_layers(no_gap)
    x = layers.Activation("relu")(layers.Conv2D(2, 3)(inputs))
    x = layers.Conv2D(2, 1, name="after_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    conv_after_map = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    with pytest.raises(ExportError, match="only pooling may sit between"):
        graph_layers(conv_after_map)


def test_export_command_refuses_a_model_that_is_not_the_card_s(tiny_models_dir, tmp_path,
                                                               capsys):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    code = training_main(["export", "--model-file", str(models / "cnn_deep_aug.keras"),
                          "--data-dir", str(tmp_path / "no-data")])
    assert code == 0 and "onnxruntime vs Keras on 3 films" in capsys.readouterr().out
    with open(models / "cnn_deep_aug.keras", "ab") as handle:
        handle.write(b"other")
    code = training_main(["export", "--model-file", str(models / "cnn_deep_aug.keras")])
    assert code == 2 and "export the model the card describes" in capsys.readouterr().err
