"""DDPM the model: training lowers the loss, the EMA is the moving average and is what samples, DDIM with
eta 0 is deterministic, the .keras file keeps the EMA and the step count."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.config import DataConfig
from zoo.data import example_batch
from zoo.errors import InputShapeError
from zoo.models import DDPM


FASHION = DataConfig(dataset="fashion_mnist", value_range=(-1.0, 1.0))
TINY = dict(widths=(8, 16), num_res_blocks=1, attention_resolutions=(14,), norm_groups=4)


# ---------------------------------------------------------------- training and EMA


@pytest.fixture(scope="module")
def fashion(data_dir):
    train_x, _ = example_batch(FASHION, 16 + 200 * 16, data_dir=data_dir, split="train")
    test_x, _ = example_batch(FASHION, 256, data_dir=data_dir)
    return train_x, test_x


@pytest.fixture(scope="module")
def trained(fashion):
    """A tiny DDPM: one step by hand (to check the EMA update), then 200 more steps on real Fashion-MNIST."""
    keras.utils.set_random_seed(0)
    model = DDPM(**TINY, timesteps=200, sample_steps=10)
    model.compile(optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0))
    seed = tf.constant([5, 5])
    before = float(tf.reduce_mean(model.diffusion_loss(model.network, fashion[1], seed)))
    initial = [w.numpy() for w in model.network.weights]
    model.fit(fashion[0][:16], batch_size=16, epochs=1, shuffle=False, verbose=0)  # one step; one traced function for all
    first = {"initial": initial, "raw": [w.numpy() for w in model.network.weights],
             "ema": [w.numpy() for w in model.ema_network.weights]}
    model.fit(fashion[0][16:16 + 200 * 16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    after = float(tf.reduce_mean(model.diffusion_loss(model.network, fashion[1], seed)))
    return model, before, after, first


def test_a_few_hundred_steps_on_fashion_mnist_lower_the_loss(trained, fashion):
    model, before, after, _ = trained
    assert int(model.train_steps) == 1 + 200
    assert before == pytest.approx(1.0, abs=0.05)  # the zero-initialized output predicts eps = 0: E[eps^2] = 1
    print(f"loss before {before:.4f}, after {after:.4f}")
    assert after < 0.35 * before, (before, after)
    ema = float(tf.reduce_mean(model.diffusion_loss(model.ema_network, fashion[1], tf.constant([5, 5]))))
    assert ema < 0.5 * before, ema


def test_ema_is_the_moving_average_and_differs_from_the_raw_weights(trained):
    model, _, _, first = trained
    decay = float(model.ema_decay_at(0))
    assert decay == pytest.approx(0.1)  # warm-up: min(0.999, 1 / 10) at the first update
    for start, raw, ema in zip(first["initial"], first["raw"], first["ema"]):
        np.testing.assert_allclose(ema, decay * start + (1 - decay) * raw, atol=1e-6)
    assert float(model.ema_decay_at(10**6)) == pytest.approx(0.999)
    assert all(not v.trainable for v in model.ema_network.weights) and len(model.trainable_weights) == len(model.network.weights)
    gaps = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(model.ema_network.weights, model.network.weights)]
    assert max(gaps) > 1e-3
    x = np.random.default_rng(1).standard_normal((2, 28, 28, 1)).astype("float32")
    t = np.array([50, 150], "int32")
    assert np.abs(model.denoise(x, t).numpy() - model.network([x, t]).numpy()).max() > 1e-3  # sampling uses the EMA


def test_ddim_with_eta_zero_is_deterministic_given_the_noise(trained):
    model = trained[0]
    noise = tf.random.stateless_normal((4, 28, 28, 1), seed=[9, 9])
    a = model.generate(noise, steps=10, eta=0.0, seed=0).numpy()
    np.testing.assert_array_equal(a, model.generate(noise, steps=10, eta=0.0, seed=123).numpy())
    assert np.abs(a - model.generate(noise, steps=10, eta=1.0, seed=0).numpy()).max() > 1e-2  # eta > 0 draws noise
    stochastic = model.generate(noise, steps=10, eta=1.0, seed=1).numpy()
    np.testing.assert_array_equal(stochastic, model.generate(noise, steps=10, eta=1.0, seed=1).numpy())
    assert np.abs(a - model.generate(-noise, steps=10, eta=0.0).numpy()).max() > 1e-2
    assert a.min() >= -1.0 and a.max() <= 1.0 and a.std() > 0.1
    np.testing.assert_array_equal(model.sample(3, steps=10, seed=4).numpy(), model.sample(3, steps=10, seed=4).numpy())
    assert model.sample(2, sampler="ddpm").shape == (2, 28, 28, 1)


def test_bad_sampler_requests_are_named(trained):
    model = trained[0]
    with pytest.raises(InputShapeError, match="runs all T = 200 steps"):
        model.sample(2, sampler="ddpm", steps=50)
    with pytest.raises(InputShapeError, match=r"steps must be in \[1, 200\]"):
        model.sample(2, steps=500)
    with pytest.raises(InputShapeError, match="sampler must be one of ddim, ddpm, dpmpp_2m"):
        model.sample(2, sampler="euler")
    with pytest.raises(InputShapeError, match="eta = 0.5 means nothing to dpmpp_2m, a deterministic ODE solver"):
        model.sample(2, sampler="dpmpp_2m", steps=5, eta=0.5)
    noisy = DDPM(**TINY, timesteps=200, eta=0.5)  # a recipe's DDIM eta is not dpmpp_2m's default
    assert noisy.sampler_settings().eta == 0.5 and noisy.sampler_settings("dpmpp_2m", 10).eta == 0.0
    with pytest.raises(InputShapeError, match=r"images must have shape \(batch, 28, 28, 1\)"):
        model.generate(np.zeros((2, 32, 32, 1), "float32"))


def test_the_solver_has_its_own_grid_and_final_order(tmp_path):
    """solver_spacing and lower_order_final reach DPM-Solver++'s settings (DDIM keeps timestep_spacing), survive
    the Keras file, and are written into schedule.json's sampler defaults, where the reference sampler reads them."""
    model = DDPM(**TINY, timesteps=200, solver_spacing="linspace", lower_order_final=False)
    solver, ddim = model.sampler_settings("dpmpp_2m", 10), model.sampler_settings("ddim", 10)
    assert (solver.spacing, solver.lower_order_final, ddim.spacing) == ("linspace", False, "trailing")
    table = solver.table(model.noise_schedule)
    assert table["timesteps"][-1] == 0 and table["c_prev"][-2] < 0  # second order into t = 0
    first = DDPM(**TINY, timesteps=200, solver_spacing="linspace").sampler_settings("dpmpp_2m", 10)
    assert first.table(model.noise_schedule)["c_prev"][-2] == 0  # the default: first order into t = 0
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert (loaded.solver_spacing, loaded.lower_order_final) == ("linspace", False)
    defaults = json.loads(model.artifact_files()["schedule.json"])["sampler_defaults"]
    assert (defaults["solver_spacing"], defaults["lower_order_final"]) == ("linspace", False)
    with pytest.raises(InputShapeError, match="timestep spacing must be one of linspace, trailing"):
        DDPM(**TINY, timesteps=200, solver_spacing="karras")


def test_keras_file_round_trip_keeps_ema_and_step_count(trained, tmp_path):
    model = trained[0]
    model.save(tmp_path / "ddpm.keras")
    loaded = keras.models.load_model(tmp_path / "ddpm.keras")
    assert type(loaded) is DDPM and int(loaded.train_steps) == int(model.train_steps)
    assert loaded.get_config()["widths"] == [8, 16] and loaded.noise_schedule.num_timesteps == 200
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_allclose(loaded.sample(2, steps=5).numpy(), model.sample(2, steps=5).numpy(), atol=1e-6)
