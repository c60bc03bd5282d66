import numpy as np
import pytest

from training import framing
from training.config import config_for
from training.export import MAX_PROBABILITY_DIFFERENCE
from training.models import build_model, load_model


def chest_on_black(scale: float = 0.8, centre=(0.5, 0.5), opaque_lung: bool = False,
                   size: int = 224, seed: int = 0):
    """An equalised-looking film: a bright body of ``scale`` of the film on black air, with two
    dark lung fields (left/right of the body's midline). Returns the film (size, size, 1) in
    0..255 and the lungs' bounding box, normalised ``[y0, x0, y1, x1]``."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    cy, cx = centre
    half = scale / 2
    film = np.zeros((size, size)) + 10 + 5 * rng.standard_normal((size, size))
    body = (np.abs(yy - cy) < half) & (np.abs(xx - cx) < half * 0.9)
    film[body] = 210 + 15 * rng.standard_normal(body.sum())
    lungs = np.zeros_like(body)
    for side in (-1, 1):
        lx, ly = cx + side * 0.22 * scale, cy - 0.05 * scale
        lung = ((xx - lx) / (0.15 * scale)) ** 2 + ((yy - ly) / (0.3 * scale)) ** 2 < 1
        lungs |= lung
        film[lung] = (200 if opaque_lung and side < 0 else 70) + 15 * rng.standard_normal(
            lung.sum()
        )
    rows, cols = np.nonzero(lungs)
    box = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]) / size
    return np.clip(film, 0, 255).astype(np.float32)[..., None], box


def find(films):
    boxes, weight = framing.find_frame_box(np.stack(films), framing.FramingConfig())
    return np.asarray(boxes), np.asarray(weight)


def contains(outer, inner, tolerance=0.02):
    return (outer[:2] <= inner[:2] + tolerance).all() and (outer[2:] >= inner[2:] - tolerance).all()


def test_box_encloses_the_lungs_and_little_else():
    film, lungs = chest_on_black()
    (box,), _ = find([film])
    assert contains(box, lungs)
    lung_area = (lungs[2] - lungs[0]) * (lungs[3] - lungs[1])
    box_area = (box[2] - box[0]) * (box[3] - box[1])
    assert box_area < 1.6 * lung_area  # the margin, not the black air around the child


def test_the_crop_shows_the_same_field_however_the_film_was_framed():
    wide, _ = chest_on_black(scale=0.88, centre=(0.52, 0.47))
    tight, _ = chest_on_black(scale=1.0)
    boxes, _ = find([wide, tight])
    crops = np.asarray(framing.FrameCrop(96)([np.stack([wide, tight]), boxes]))
    films_differ = np.corrcoef(wide.ravel(), tight.ravel())[0, 1]
    crops_agree = np.corrcoef(crops[0].ravel(), crops[1].ravel())[0, 1]
    assert films_differ < 0.5 and crops_agree > 0.9


def test_one_opaque_lung_does_not_cut_the_other_off():
    film, lungs = chest_on_black(opaque_lung=True)
    (box,), _ = find([film])
    assert contains(box, lungs)


def test_a_film_without_lung_fields_keeps_its_whole_field():
    blank = np.full((224, 224, 1), 128.0, dtype=np.float32)
    boxes, weight = find([blank])
    np.testing.assert_allclose(boxes[0], framing.WHOLE_FILM)
    assert weight[0] < framing.FramingConfig().min_weight


def test_small_boxes_grow_to_the_minimum_size_and_stay_inside_the_film():
    film, _ = chest_on_black(scale=0.35, centre=(0.2, 0.8))
    (box,), _ = find([film])
    assert box[2] - box[0] == pytest.approx(framing.FramingConfig().min_size, abs=1e-5)
    assert 0.0 <= box.min() and box.max() <= 1.0


def test_crop_of_the_whole_film_is_the_film_and_of_a_quarter_is_that_quarter():
    rng = np.random.default_rng(1)
    films = rng.uniform(0, 255, (2, 224, 224, 1)).astype(np.float32)
    whole = framing.FrameCrop(224)([films, np.array([framing.WHOLE_FILM] * 2, np.float32)])
    np.testing.assert_allclose(np.asarray(whole), films, atol=1e-3)
    quarter = np.array([[0.0, 0.5, 0.5, 1.0]] * 2, np.float32)
    cropped = framing.FrameCrop(112)([films, quarter])
    np.testing.assert_allclose(np.asarray(cropped), films[:, :112, 112:], atol=1e-3)


def test_crop_equalisation_spreads_a_narrow_grey_range_and_keeps_the_order():
    rng = np.random.default_rng(2)
    film = rng.normal(120, 6, (64, 64, 1)).astype(np.float32)
    films = np.stack([film, film + 60])  # the same film, brighter: equalised alike
    equalised = np.asarray(framing.CropEqualize(stride=2)(films))
    assert equalised.min() < 10 and equalised.max() > 245
    assert np.percentile(equalised, 50) == pytest.approx(127.5, abs=8)
    order = np.argsort(films[0].ravel())
    assert (np.diff(equalised[0].ravel()[order]) >= -1e-4).all()
    np.testing.assert_allclose(equalised[0], equalised[1], atol=1.0)


def test_box_jitter_moves_boxes_in_training_only():
    film, _ = chest_on_black()
    layer = framing.FrameBox(jitter=0.05, seed=3)
    still = np.asarray(layer(film[None]))
    np.testing.assert_array_equal(still, np.asarray(layer(film[None], training=False)))
    moved = np.asarray(layer(np.repeat(film[None], 8, axis=0), training=True))
    assert 0 < np.abs(moved - still).max() <= 0.05 + 1e-6


@pytest.fixture(scope="module")
def framed_model(tmp_path_factory):
    config = config_for("cnn_deep_aug", frame_lungs=True, working_size=64, frame_jitter=0.04,
                        equalize_crop=True)
    model = build_model(config)
    path = tmp_path_factory.mktemp("framed") / "framed.keras"
    model.save(path)
    return path


def test_framed_model_names_its_box_and_survives_a_save(framed_model):
    model = load_model(framed_model)
    assert model.get_layer(framing.FRAME_BOX_LAYER).output.shape[1:] == (4,)
    film, _ = chest_on_black()
    fresh = build_model(config_for("cnn_deep_aug", frame_lungs=True, working_size=64,
                                   equalize_crop=True))
    fresh.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(film[None], verbose=0),
                               fresh.predict(film[None], verbose=0), atol=1e-6)


def test_framed_model_exports_to_onnx_with_its_box(framed_model):
    import keras
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    model = load_model(framed_model)
    both = keras.Model(model.input, [model.output, model.get_layer("frame_box").output])

    @tf.function(input_signature=[tf.TensorSpec((None, 224, 224, 1), tf.float32)])
    def forward(image):
        probability, box = both(image, training=False)
        return {"probability": probability, "frame_box": box}

    proto, _ = tf2onnx.convert.from_function(
        forward, input_signature=forward.input_signature, opset=17
    )
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    films = np.stack([chest_on_black(scale=s, seed=i)[0] for i, s in enumerate((0.6, 0.8, 1.0))])
    onnx_outputs = dict(zip([o.name for o in session.get_outputs()],
                            session.run(None, {session.get_inputs()[0].name: films}),
                            strict=True))
    keras_probability, keras_box = both(films, training=False)
    np.testing.assert_allclose(onnx_outputs["frame_box"], keras_box, atol=1e-6)
    np.testing.assert_allclose(onnx_outputs["probability"], keras_probability,
                               atol=MAX_PROBABILITY_DIFFERENCE)
