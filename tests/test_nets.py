"""The shared layers of zoo.nets against the Keras layers they stand for."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.nets.convolution import Conv2D
from zoo.nets.normalization import GroupNormalization


def assert_same_as_keras(ours, theirs, x, weight_mean: float) -> None:
    """Build both layers with the same random weights; their outputs and all gradients must agree."""
    rng = np.random.default_rng(0)
    ours.build(x.shape)
    theirs.build(x.shape)
    weights = [rng.normal(weight_mean, 0.3, w.shape).astype("float32") for w in theirs.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        upstream = tf.constant(np.random.default_rng(1).normal(size=y.shape).astype("float32"))
        results.append([y, *tape.gradient(y, [x, *layer.trainable_weights], output_gradients=upstream)])
    assert results[0][0].shape == results[1][0].shape
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape, options", [
    ((4, 28, 28, 16), {"groups": 8}),                      # two channels a group, the U-Net's first level
    ((3, 7, 7, 64), {"groups": 8}),
    ((2, 14, 14, 6), {"groups": 3}),
    ((2, 9, 9, 4), {"groups": 4}),                         # one channel a group
    ((2, 16, 16, 8), {"groups": -1, "epsilon": 1e-5, "center": False, "scale": False}),  # CycleGAN's instance norm
    ((2, 10), {"groups": 2}),                              # not 4-D: Keras' own computation
])
def test_group_normalization_is_keras_layer_in_values_and_gradients(shape, options):
    # an offset mean: the variance is taken about it
    x = tf.constant(np.random.default_rng(2).normal(3.0, 5.0, shape).astype("float32"))
    ours, theirs = GroupNormalization(**options), keras.layers.GroupNormalization(**options)
    assert_same_as_keras(ours, theirs, x, weight_mean=1.0)
    assert ours.groups == theirs.groups


def test_group_normalization_computes_in_float32_under_mixed_precision():
    x = np.random.default_rng(1).normal(0.0, 300.0, (2, 8, 8, 16)).astype("float32")
    layer = GroupNormalization(4, dtype="mixed_float16")
    y = layer(x)
    assert y.dtype == tf.float16
    reference = keras.layers.GroupNormalization(4)(x)
    np.testing.assert_allclose(np.float32(y), reference.numpy(), atol=5e-3)


def test_group_normalization_saves_under_its_registered_name(tmp_path):
    inputs = keras.Input((6, 6, 8))
    model = keras.Model(inputs, GroupNormalization(4, name="norm")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("norm")) is GroupNormalization
    x = np.random.default_rng(2).normal(size=(3, 6, 6, 8)).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


@pytest.mark.parametrize("shape, options", [
    ((4, 28, 28, 64), {"kernel_size": 3, "padding": "same"}),                  # the DDPM U-Net's output
    ((2, 38, 38, 16), {"kernel_size": 7, "activation": "tanh"}),               # CycleGAN's c7s1-1
    ((3, 6, 6, 64), {"kernel_size": 4, "padding": "same", "use_bias": False}),  # a PatchGAN's scores
    ((2, 9, 9, 5), {"kernel_size": 3, "strides": 2, "padding": "same"}),
    ((2, 9, 9, 5), {"kernel_size": 3, "strides": 2}),
    ((2, 8, 8, 4), {"kernel_size": 3, "filters": 3, "padding": "same"}),       # not one filter: Keras' own computation
])
def test_conv2d_is_keras_layer_in_values_and_gradients(shape, options):
    options = {"filters": 1, **options}
    x = tf.constant(np.random.default_rng(2).normal(size=shape).astype("float32"))
    assert_same_as_keras(Conv2D(**options), keras.layers.Conv2D(**options), x, weight_mean=0.0)


def test_conv2d_saves_under_its_registered_name_and_runs_in_float16(tmp_path):
    inputs = keras.Input((6, 6, 8))
    model = keras.Model(inputs, Conv2D(1, 3, padding="same", name="out")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("out")) is Conv2D
    x = np.random.default_rng(2).normal(size=(3, 6, 6, 8)).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    half = Conv2D(1, 3, padding="same", dtype="mixed_float16")
    y = half(x)
    assert y.dtype == tf.float16
    reference = keras.layers.Conv2D(1, 3, padding="same")
    reference.build(x.shape)
    reference.set_weights(half.get_weights())
    np.testing.assert_allclose(np.float32(y), reference(x).numpy(), atol=2e-2)
