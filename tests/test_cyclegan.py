"""CycleGAN: the image pool's rule, the learning-rate schedule, the losses, training on real data, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import blocks
from zoo.config import DataConfig
from zoo.data import example_batch
from zoo.errors import InputShapeError
from zoo.models import CycleGAN
from zoo.models.cyclegan import ConstantThenLinearDecay, ImagePool, cycle_loss

TINY = dict(image_shape=(32, 32, 1), filters=4, n_res_blocks=1, disc_filters=4, n_layers=2, pool_size=4)
SNEAKER, ANKLE_BOOT = 7, 9


@pytest.fixture(scope="module")
def domains(data_dir):
    """Eight Fashion-MNIST sneakers (domain A) and eight ankle boots (domain B), padded to 32x32, in [-1, 1]."""
    def batch(label):
        cfg = DataConfig(dataset="fashion_mnist", classes=(label,), image_size=(32, 32), resize="pad",
                         value_range=(-1.0, 1.0))
        return example_batch(cfg, 8, data_dir=data_dir, split="train")[0]
    return batch(SNEAKER), batch(ANKLE_BOOT)


def tiny_model(**overrides):
    model = CycleGAN(**{**TINY, **overrides})
    model.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                  discriminator_optimizer=keras.optimizers.Adam(ConstantThenLinearDecay(2e-4, 4, 1, 1), beta_1=0.5))
    return model


# ---------------------------------------------------------------- the image pool


def marked(values) -> np.ndarray:
    """One 1x1 grey image per value, so each image can be recognized by its pixel."""
    return np.asarray(values, "float32").reshape(-1, 1, 1, 1)


def test_pool_stores_until_full_then_stays_bounded():
    pool = ImagePool(4, (1, 1, 1))
    out = pool.query(marked([1, 2, 3]), tf.constant([0, 0], "int64"))
    np.testing.assert_array_equal(out.numpy(), marked([1, 2, 3]))  # not full: the new fakes pass through
    assert int(pool.count.numpy()) == 3 and list(pool.images.numpy().ravel()[:3]) == [1, 2, 3]
    out = pool.query(marked([4, 5, 6, 7, 8, 9]), tf.constant([0, 1], "int64")).numpy().ravel()
    assert out[0] == 4  # the 4th fills the last place and passes through; then the pool is full
    assert int(pool.count.numpy()) == 4
    stored = set(pool.images.numpy().ravel())
    assert len(stored) == 4 and stored <= set(range(1, 10))
    assert set(out) | stored == set(range(1, 10))  # nothing is lost: each image is stored or returned


def test_pool_is_deterministic_for_a_seed():
    def run(seed):
        pool = ImagePool(3, (1, 1, 1))
        return [pool.query(marked(range(10 * i, 10 * i + 10)), tf.constant([seed, i], "int64")).numpy()
                for i in range(3)]

    np.testing.assert_array_equal(run(7), run(7))
    assert any((a != b).any() for a, b in zip(run(7), run(8)))


def test_pool_replaces_half_the_time_and_returns_the_stored_image():
    pool = ImagePool(50, (1, 1, 1))
    pool.query(marked(range(50)), tf.constant([3, 0], "int64"))  # fill it: images 0..49
    swaps, n = 0, 0
    for step in range(1, 21):
        before = pool.images.numpy().ravel().copy()
        new = np.arange(1000 * step, 1000 * step + 100)
        out = pool.query(marked(new), tf.constant([3, step], "int64")).numpy().ravel()
        after = pool.images.numpy().ravel()
        assert int(pool.count.numpy()) == 50
        returned_stored = out != new
        # Every image returned instead of the new one was in the pool, before or from earlier in this batch.
        assert set(out[returned_stored]) <= set(before) | set(new)
        # The pool holds exactly the images it had plus the swapped-in new ones, minus the ones handed out.
        assert set(after) == (set(before) | set(new[returned_stored])) - set(out[returned_stored])
        swaps, n = swaps + returned_stored.sum(), n + len(new)
    assert abs(swaps / n - 0.5) < 0.05, swaps / n  # 2000 coin flips: 5% is more than four standard deviations


def test_pool_of_size_zero_passes_fakes_through():
    fakes = marked([1, 2])
    np.testing.assert_array_equal(ImagePool(0, (1, 1, 1)).query(fakes, tf.constant([0, 0], "int64")), fakes)


# ---------------------------------------------------------------- the learning rate


def test_learning_rate_is_constant_then_decays_to_zero():
    schedule = ConstantThenLinearDecay(2e-4, steps_per_epoch=10, epochs=100, decay_epochs=100)
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(0) == pytest.approx(2e-4)
    assert rate(100 * 10) == pytest.approx(2e-4)  # the first step of decay
    assert rate(150 * 10) == pytest.approx(1e-4)
    assert rate(200 * 10) == 0.0 and rate(250 * 10) == 0.0
    copy = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(copy, ConstantThenLinearDecay) and copy.get_config() == schedule.get_config()
    assert float(ConstantThenLinearDecay(1e-3, 10, 1, 0)(10**6)) == pytest.approx(1e-3)


# ---------------------------------------------------------------- the networks and losses


def test_networks_take_any_size_divisible_by_four():
    generator = blocks.resnet_generator(3, 4, 1)
    discriminator = blocks.patch_discriminator(3, 4, 3)
    for size in ((32, 32), (20, 44)):
        x = np.random.default_rng(0).uniform(-1, 1, (2, *size, 3)).astype("float32")
        assert generator(x).shape == (2, *size, 3)
        assert discriminator(x).shape == (2, -(-size[0] // 8), -(-size[1] // 8), 1)


def test_patchgan_sees_70x70_patches():
    receptive, jump = 1, 1
    for layer in blocks.patch_discriminator(1, 4, n_layers=3).layers:
        if isinstance(layer, keras.layers.Conv2D):
            receptive, jump = receptive + (layer.kernel_size[0] - 1) * jump, jump * layer.strides[0]
    assert receptive == 70


def test_cycle_loss_is_zero_for_identity_generators(domains):
    a, b = domains
    identity = lambda x, training=False: x  # noqa: E731
    assert np.all(cycle_loss(a, b, b, a, identity, identity).numpy() == 0.0)
    assert np.all(cycle_loss(a, b, b, a, identity, lambda x, training=False: -x).numpy() > 0.0)


# ---------------------------------------------------------------- training, saving, translating


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_trains_on_sneakers_and_boots(domains, policy, precision):
    policy(precision)
    model = tiny_model()
    history = model.fit(tf.data.Dataset.from_tensor_slices(domains).batch(4).repeat(), steps_per_epoch=3, epochs=1,
                        verbose=0)
    for name in ("d_loss", "g_loss", "cycle", "identity"):
        assert np.isfinite(history.history[name][-1]), name
    assert int(model.train_steps.numpy()) == 3
    assert int(model.pool_a.count.numpy()) == 4  # 12 fakes went through a pool of 4
    assert np.all(np.isfinite(model.evaluate(*[tf.constant(d) for d in domains], batch_size=4, verbose=0)))


def test_save_and_load_translates_the_same(domains, tmp_path):
    a, b = domains
    model = tiny_model()
    model.fit(tf.data.Dataset.from_tensor_slices(domains).batch(4), epochs=1, verbose=0)
    model.save(tmp_path / "cyclegan.keras")
    loaded = keras.models.load_model(tmp_path / "cyclegan.keras")
    assert isinstance(loaded, CycleGAN) and loaded.get_config() == model.get_config()
    for direction, images in (("a2b", a), ("b2a", b)):
        np.testing.assert_array_equal(loaded.translate(images, direction).numpy(),
                                      model.translate(images, direction).numpy())
    np.testing.assert_array_equal(loaded.pool_b.images.numpy(), model.pool_b.images.numpy())
    assert int(loaded.train_steps.numpy()) == 2
    schedule = keras.optimizers.serialize(loaded.discriminator_optimizer)["config"]["learning_rate"]
    assert schedule["registered_name"] == "zoo>ConstantThenLinearDecay"  # the schedule survives saving
    assert loaded.discriminator_optimizer.iterations.numpy() == model.discriminator_optimizer.iterations.numpy() == 2


def test_translate_a_sneaker(domains):
    model = tiny_model()
    out = model.translate(domains[0][:3], "a2b").numpy()
    assert out.shape == (3, 32, 32, 1) and out.min() >= -1.0 and out.max() <= 1.0
    assert model.translate(domains[1][:2, ..., 0], "b2a").shape == (2, 32, 32, 1)  # grey without a channel axis
    assert [e.name for e in model.endpoints()] == ["a2b", "b2a"]
    with pytest.raises(InputShapeError, match="divisible by 4"):
        model.translate(np.zeros((1, 30, 32, 1), "float32"))
    with pytest.raises(InputShapeError, match="direction"):
        model.translate(domains[0][:1], "a2c")
    with pytest.raises(InputShapeError, match="dtype"):
        model.translate(np.zeros((1, 32, 32, 1), "uint8"))
    with pytest.raises(InputShapeError, match=r"\(batch, height, width, 1\)"):
        model.translate(np.zeros((1, 32, 32, 3), "float32"))
