"""DDPM: the schedules and forward process are exact, the samplers are the papers' (and agree with each other
and with the numpy/onnxruntime reference), training lowers the loss, the EMA is what ships, runs resume exactly."""

import json
import subprocess
import sys

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import zoo
from conftest import ROOT, read_h5, resumed_and_straight, run_zoo, tiny_run
from zoo.artifacts import load_examples, read_metadata
from zoo.config import DataConfig, load_recipe
from zoo.data import example_batch
from zoo.diffusion import NoiseSchedule, SamplerSettings, compile_sampler, cosine_alphas_cumprod
from zoo.errors import InputShapeError, RecipeError
from zoo.models import DDPM
from zoo.reference_sampler import ddim_timesteps
from zoo.training import checkpoints
from zoo.unet import unet

FASHION = DataConfig(dataset="fashion_mnist", value_range=(-1.0, 1.0))
TINY = dict(widths=(8, 16), num_res_blocks=1, attention_resolutions=(14,), norm_groups=4)


def gaussian_denoiser(schedule, prediction_type, mu, s):
    """The exact (posterior-mean) denoiser for data x0 ~ N(mu, s^2) per pixel: the best any network could do."""
    ab_table = tf.constant(schedule.alphas_cumprod, tf.float32)

    def denoiser(x_t, t):
        ab = tf.reshape(tf.gather(ab_table, t), (-1, 1, 1, 1))
        residual = (x_t - tf.sqrt(ab) * mu) / (ab * s**2 + 1.0 - ab)
        eps = tf.sqrt(1.0 - ab) * residual  # E[eps | x_t]
        x0 = mu + tf.sqrt(ab) * s**2 * residual  # E[x0 | x_t]
        return eps if prediction_type == "epsilon" else tf.sqrt(ab) * eps - tf.sqrt(1.0 - ab) * x0

    return denoiser


# ---------------------------------------------------------------- schedules and the forward process


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_forward_process_has_the_closed_form_mean_and_variance(name):
    """q(x_t | x_0) drawn in one shot, and reached by t + 1 single steps of q(x_s | x_s-1), matches N(sqrt(ab) x0, 1 - ab)."""
    schedule = NoiseSchedule(name, 1000)
    n, x0 = 20_000, np.array([-0.8, 0.3, 1.0], np.float32)
    rng = np.random.default_rng(0)
    for t in (0, 40, 500, 999):
        mean = np.sqrt(np.prod(1.0 - schedule.betas[: t + 1])) * x0  # the closed form, from the betas
        variance = 1.0 - np.prod(1.0 - schedule.betas[: t + 1])
        images = np.broadcast_to(x0[None, None, None, :], (n, 1, 1, 3))  # 3 pixels with different x0
        noise = tf.random.stateless_normal(images.shape, seed=[t, 1])
        one_shot = schedule.q_sample(images, tf.fill([n], t), noise).numpy().reshape(n, 3)
        chain = np.broadcast_to(x0, (n, 3)).astype(np.float64)
        for beta in schedule.betas[: t + 1]:
            chain = np.sqrt(1.0 - beta) * chain + np.sqrt(beta) * rng.standard_normal(chain.shape)
        for draws in (one_shot, chain):
            tolerance = 5 * np.sqrt(variance / n)  # five standard errors of the mean
            np.testing.assert_allclose(draws.mean(0), mean, atol=tolerance, rtol=0)
            np.testing.assert_allclose(draws.var(0), np.full(3, variance), rtol=5 * np.sqrt(2 / n), atol=0)


def test_cumulative_alphas_decrease_and_the_endpoints_are_the_papers():
    for name in ("linear", "cosine"):
        ab = NoiseSchedule(name, 1000).alphas_cumprod
        assert ab.dtype == np.float64 and np.all(np.diff(ab) < 0) and 0 < ab[-1] < ab[0] < 1
    linear = NoiseSchedule("linear", 1000)
    assert linear.betas[0] == pytest.approx(1e-4) and linear.betas[-1] == pytest.approx(0.02)
    assert linear.alphas_cumprod[-1] == pytest.approx(4.04e-5, rel=0.01)  # x_T is noise up to 4e-5 of signal
    cosine = NoiseSchedule("cosine", 1000)
    f = lambda t: np.cos((t / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731  (Nichol & Dhariwal eq. 17)
    t = np.arange(1, 1000)
    np.testing.assert_allclose(cosine.alphas_cumprod[:-1], f(t) / f(0), rtol=1e-12)  # abar(t), 0-based index t - 1
    np.testing.assert_allclose(cosine_alphas_cumprod(t, 1000), f(t) / f(0), rtol=1e-12)
    # s = 0.008 makes sqrt(beta_1) slightly smaller than the pixel bin size 1/127.5; beta_T is clipped to 0.999
    assert 0.5 / 127.5 < np.sqrt(cosine.betas[0]) < 1 / 127.5
    assert cosine.betas[-1] == 0.999 and cosine.betas.max() == 0.999 and np.all(cosine.betas[:-1] < 0.999)
    assert cosine.alphas_cumprod[499] == pytest.approx(f(500) / f(0)) and 0.45 < cosine.alphas_cumprod[499] < 0.5
    assert cosine.alphas_cumprod[-1] < 1e-8
    with pytest.raises(ValueError, match="schedule must be one of linear, cosine"):
        NoiseSchedule("quadratic")


def test_posterior_constants_are_bayes_rule():
    """q(x_t-1 | x_t, x0) from the two Gaussians q(x_t-1 | x0) and q(x_t | x_t-1) by completing the square."""
    s = NoiseSchedule("cosine", 200)
    ab_prev, alpha, beta = s.alphas_cumprod_prev[1:], s.alphas[1:], s.betas[1:]  # t >= 1: x_t-1 is noisy
    precision = 1.0 / (1.0 - ab_prev) + alpha / beta
    np.testing.assert_allclose(s.posterior_variance[1:], 1.0 / precision, rtol=1e-9)
    np.testing.assert_allclose(s.posterior_mean_coef1[1:], np.sqrt(ab_prev) / (1 - ab_prev) / precision, rtol=1e-9)
    np.testing.assert_allclose(s.posterior_mean_coef2[1:], np.sqrt(alpha) / beta / precision, rtol=1e-9)
    assert s.posterior_variance[0] == 0 and s.posterior_mean_coef1[0] == pytest.approx(1.0)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v"])
def test_predictions_convert_back_to_x0_and_eps(prediction_type):
    schedule = NoiseSchedule("cosine", 1000)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (4, 5, 5, 1)).astype("float32")
    eps = rng.standard_normal(x0.shape).astype("float32")
    t = tf.constant([0, 300, 700, 980])
    x_t = schedule.q_sample(x0, t, eps)
    target = schedule.target(x0, eps, t, prediction_type)
    np.testing.assert_allclose(schedule.predict_x0(target, x_t, t, prediction_type), x0, atol=2e-4)
    np.testing.assert_allclose(schedule.predict_eps(target, x_t, t, prediction_type)[:3], eps[:3], atol=2e-4)


# ---------------------------------------------------------------- samplers


def test_timestep_spacings():
    assert list(ddim_timesteps(1000, 4, "linspace")) == [999, 666, 333, 0]
    assert list(ddim_timesteps(1000, 4, "trailing")) == [999, 749, 499, 249]
    for spacing in ("linspace", "trailing"):
        assert list(ddim_timesteps(10, 10, spacing)) == list(range(9, -1, -1))
        for steps in (1, 7, 50, 333, 999):
            found = ddim_timesteps(1000, steps, spacing)
            assert len(found) == steps and found[0] == 999 and np.all(np.diff(found) < 0) and found[-1] >= 0
    with pytest.raises(ValueError, match=r"steps must be in \[1, 1000\]"):
        ddim_timesteps(1000, 1001)


@pytest.mark.parametrize("spacing", ["linspace", "trailing"])
def test_ddim_with_eta_one_over_all_steps_is_the_ddpm_posterior(spacing):
    schedule = NoiseSchedule("linear", 100)
    ddim, ddpm = schedule.ddim_table(100, eta=1.0, spacing=spacing), schedule.ddpm_table("fixed_small")
    np.testing.assert_array_equal(ddim["timesteps"], ddpm["timesteps"])
    for key in ("c_x0", "c_xt", "sigma"):  # mean coefficients of x0 and x_t, and the posterior's stddev
        np.testing.assert_allclose(ddim[key], ddpm[key], rtol=1e-9, atol=1e-12, err_msg=key)
    # ... and the compiled chains agree step for step: same noise, same per-step draws, x0 clipping on
    denoiser = gaussian_denoiser(schedule, "epsilon", 0.6, 0.5)  # predicts x0 beyond 1 at times: clipping acts
    noise = tf.random.stateless_normal((3, 8, 8, 1), seed=[4, 2])
    run = lambda sampler: compile_sampler(denoiser, schedule, "epsilon", sampler)(noise, 7).numpy()  # noqa: E731
    a = run(SamplerSettings("ddim", 100, eta=1.0, spacing=spacing))
    b = run(SamplerSettings("ddpm", variance="fixed_small"))
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert not np.allclose(b, run(SamplerSettings("ddpm", variance="fixed_large")), atol=1e-2)


@pytest.mark.parametrize("prediction_type,schedule", [("epsilon", "linear"), ("v", "cosine")])
def test_samplers_draw_the_data_distribution_given_the_exact_denoiser(prediction_type, schedule):
    """With the posterior-mean denoiser of N(mu, s^2) data, the samplers over all T steps return that distribution.

    12544 pixels: the mean's standard error is 0.003. DDPM's fixed variances bracket the true reverse
    variance (Ho et al. sec. 3.2), so its spread is close but not exact; 50 DDIM steps add discretization error.
    """
    schedule = NoiseSchedule(schedule, 1000)
    mu, s = 0.2, 0.3
    denoiser = gaussian_denoiser(schedule, prediction_type, mu, s)
    noise = tf.random.stateless_normal((16, 28, 28, 1), seed=[0, 0])
    for settings, std_tolerance in ((SamplerSettings("ddpm", clip_x0=False), 0.015),
                                    (SamplerSettings("ddpm", variance="fixed_large", clip_x0=False), 0.015),
                                    (SamplerSettings("ddim", 1000, eta=0.0, clip_x0=False), 0.01),
                                    (SamplerSettings("ddim", 50, eta=0.0, clip_x0=False), 0.03)):
        x = compile_sampler(denoiser, schedule, prediction_type, settings)(noise, 1).numpy()
        assert abs(x.mean() - mu) < 0.01 and abs(x.std() - s) < std_tolerance, (settings, x.mean(), x.std())


# ---------------------------------------------------------------- the network


def test_unet_pads_and_crops_any_depth_and_rejects_unknown_attention_sizes():
    for widths, attention in (((8, 8), (14,)), ((8, 8, 8, 8), (4,))):  # 28 -> 14; 28 padded to 32 -> 16 -> 8 -> 4
        network = unet((28, 28, 1), widths, 1, attention, 4)
        assert network.output_shape == (None, 28, 28, 1)
        assert network([np.zeros((2, 28, 28, 1), "float32"), np.array([0, 5], "int32")]).shape == (2, 28, 28, 1)
    assert any(layer.name.endswith("_pad") for layer in network.layers)
    with pytest.raises(ValueError, match=r"attention_resolutions \[5\].*they are \[28, 14, 7\]"):
        unet((28, 28, 1), (8, 8, 8), 1, (5,))


def test_timestep_changes_the_prediction():
    keras.utils.set_random_seed(0)
    network = unet((28, 28, 1), (8, 16), 1, (14,), 4)
    for v in network.weights:  # the output convolution starts at zero
        if "conv_out" in v.path:
            v.assign(np.full(v.shape, 0.1, "float32"))
    x = np.random.default_rng(0).standard_normal((1, 28, 28, 1)).astype("float32")
    a, b = network([x, np.array([10], "int32")]), network([x, np.array([900], "int32")])
    assert np.abs(a.numpy() - b.numpy()).max() > 1e-3


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
    model.train_on_batch(fashion[0][:16])
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
    with pytest.raises(InputShapeError, match="sampler must be one of ddim, ddpm"):
        model.sample(2, sampler="euler")
    with pytest.raises(InputShapeError, match=r"images must have shape \(batch, 28, 28, 1\)"):
        model.generate(np.zeros((2, 32, 32, 1), "float32"))


def test_keras_file_round_trip_keeps_ema_and_step_count(trained, tmp_path):
    model = trained[0]
    model.save(tmp_path / "ddpm.keras")
    loaded = keras.models.load_model(tmp_path / "ddpm.keras")
    assert type(loaded) is DDPM and int(loaded.train_steps) == int(model.train_steps)
    assert loaded.get_config()["widths"] == [8, 16] and loaded.noise_schedule.num_timesteps == 200
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_allclose(loaded.sample(2, steps=5).numpy(), model.sample(2, steps=5).numpy(), atol=1e-6)


# ---------------------------------------------------------------- runner, export, reference sampler, CLI


TINY_RECIPE = """
name = "tiny-ddpm"
[model]
family = "ddpm"
widths = [8, 16]
num_res_blocks = 1
attention_resolutions = [14]
norm_groups = 4
schedule = "cosine"
prediction_type = "v"
timesteps = 100
sample_steps = 5
generate_steps = 8
[data]
dataset = "fashion_mnist"
value_range = [-1.0, 1.0]
max_examples = 256
[optimizer]
learning_rate = 3e-3
""" + tiny_run(steps_per_epoch=4, batch_size=16)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """One epoch with export, resumed to a second; and a straight two-epoch run."""
    folder = tmp_path_factory.mktemp("ddpm")
    first, _ = resumed_and_straight(folder, TINY_RECIPE, data_dir, export_first=True)
    return folder, first.export_dir


def test_resume_is_exact_including_the_ema_and_step_counter(run):
    folder, _ = run
    resumed, straight = (read_h5(checkpoints(folder / name)[-1] / "model.weights.h5") for name in ("resumed", "straight"))
    assert resumed.keys() == straight.keys() and any(key.startswith("ema_network/") for key in resumed)
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
    assert resumed["vars/0"] == 8 and resumed["optimizer/vars/0"] == 8  # train_steps and the optimizer's iterations


def test_artifact_has_the_denoiser_generate_and_a_schedule_covered_by_checksums(run):
    artifact = run[1]
    meta = read_metadata(artifact)
    assert {"model.keras", "saved_model", "denoiser.onnx", "schedule.json", "samples.png"} <= {p.name for p in artifact.iterdir()}
    assert [e["name"] for e in meta["endpoints"]] == ["generate", "denoise"] and meta["extra_files"] == ["schedule.json"]
    assert len(meta["files"]["schedule.json"]) == 64
    assert meta["parity"]["max_abs_diff"] <= 1e-4
    assert set(meta["parity"]["by_format"]["saved_model"]) == {"generate", "denoise"}
    assert set(meta["parity"]["by_format"]["onnx"]) == {"denoiser.onnx"}
    schedule = json.loads((artifact / "schedule.json").read_text())
    reference = NoiseSchedule("cosine", 100)
    assert (schedule["num_timesteps"], schedule["schedule"], schedule["prediction_type"]) == (100, "cosine", "v")
    np.testing.assert_array_equal(schedule["betas"], reference.betas)  # float64, exactly
    np.testing.assert_array_equal(schedule["alphas_cumprod"], reference.alphas_cumprod)
    (artifact / "schedule.json").write_text("{}")
    try:
        with pytest.raises(zoo.ZooError, match="schedule.json does not match its sha256"):
            zoo.load(artifact)
    finally:
        (artifact / "schedule.json").write_text(json.dumps(schedule, indent=1))


def test_exports_serve_the_ema_denoiser_within_parity(run):
    artifact = run[1]
    model = zoo.load(artifact, verify=False)
    rng = np.random.default_rng(3)
    x_t = rng.standard_normal((7, 28, 28, 1)).astype("float32")
    t = rng.integers(0, 100, 7).astype("int32")
    ema, raw = model.denoise(x_t, t).numpy(), model.network([x_t, t]).numpy()
    onnx = ort.InferenceSession(str(artifact / "denoiser.onnx")).run(None, {"x_t": x_t, "t": t})[0]
    saved = tf.saved_model.load(str(artifact / "saved_model"))
    served = saved.signatures["denoise"](x_t=x_t, t=t)["prediction"].numpy()
    for got in (onnx, served):
        np.testing.assert_allclose(got, ema, atol=1e-4, rtol=0)
        assert np.abs(got - raw).max() > 1e-3  # the raw network is not what ships
    examples = load_examples(artifact)
    np.testing.assert_allclose(model.denoise(examples["x_t"], examples["t"]).numpy(), examples["denoise.prediction"], atol=1e-5)
    assert sorted(examples["t"]) == list(examples["t"]) and examples["t"][-1] == 99


def test_reference_sampler_reproduces_the_tensorflow_sampler_without_tensorflow(run, tmp_path):
    artifact = run[1]
    model = zoo.load(artifact, verify=False)
    noise = np.random.default_rng(0).standard_normal((3, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    # The reference runs as a standalone file, so not even the zoo package (which imports TensorFlow) is loaded.
    script = f"""
import runpy, sys, numpy as np
module = runpy.run_path({str(ROOT / "zoo" / "reference_sampler.py")!r})
sampler = module["ReferenceSampler"]({str(artifact)!r})
noise = np.load({str(tmp_path / "noise.npy")!r})
np.save({str(tmp_path / "ref8.npy")!r}, sampler.sample(noise, steps=8))
np.save({str(tmp_path / "ref20.npy")!r}, sampler.sample(noise, steps=20, spacing="linspace", clip_x0=False))
assert not any(name.split(".")[0] in ("tensorflow", "keras", "zoo") for name in sys.modules), "TensorFlow was imported"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    reference8, reference20 = np.load(tmp_path / "ref8.npy"), np.load(tmp_path / "ref20.npy")
    tf8 = model.generate(noise, steps=8, eta=0.0).numpy()
    tf20 = model.sampler_function(SamplerSettings("ddim", 20, 0.0, "linspace", clip_x0=False))(noise, 0).numpy()
    np.testing.assert_allclose(reference8, tf8, atol=1e-3, rtol=0)
    np.testing.assert_allclose(reference20, tf20, atol=1e-3, rtol=0)
    assert np.abs(reference8 - reference20).max() > 1e-2  # the two settings differ: the comparison has teeth
    generate = tf.saved_model.load(str(artifact / "saved_model")).signatures["generate"]
    np.testing.assert_allclose(generate(noise=noise)["images"].numpy(), reference8, atol=1e-3, rtol=0)


def test_zoo_sample_takes_a_sampler_steps_and_eta(run, tmp_path):
    artifact = run[1]
    result = run_zoo("sample", artifact, "--sampler", "ddim", "--steps", "5", "--eta", "0.5", "-n", "4",
                     "-o", tmp_path / "s.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sampler ddim, steps 5, eta 0.5" in result.stdout and (tmp_path / "s.png").stat().st_size > 0
    result = run_zoo("sample", artifact, "--sampler", "ddpm", "--steps", "5", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "zoo: error: the ddpm sampler runs all T = 100 steps" in result.stderr


# ---------------------------------------------------------------- recipes


def test_shipped_recipes_and_their_mistakes():
    linear = load_recipe(ROOT / "recipes" / "ddpm_fashion_mnist.toml")
    cosine = load_recipe(ROOT / "recipes" / "ddpm_cosine_v_fashion_mnist.toml")
    assert (linear.model.schedule, linear.model.prediction_type) == ("linear", "epsilon")
    assert (cosine.model.schedule, cosine.model.prediction_type) == ("cosine", "v")
    assert linear.model.timesteps == 1000 and linear.model.ema_decay == 0.999
    model = DDPM.from_recipe(linear)
    assert model.network.output_shape == (None, 28, 28, 1)
    path = ROOT / "recipes" / "ddpm_fashion_mnist.toml"
    for override, message in (("data.value_range=[0.0, 1.0]", r"data.value_range = \[-1.0, 1.0\]"),
                              ("model.attention_resolutions=[8]", r"\[8\].*they are \[28, 14, 7\]"),
                              ("model.sample_steps=2000", "exceeds timesteps = 1000"),
                              ("model.prediction_type='x0'", "Accepted values: 'epsilon', 'v'")):
        with pytest.raises(RecipeError, match=message):
            load_recipe(path, overrides=[override])


def test_zoo_eval_scores_each_sampler_against_the_floor(run, data_dir, monkeypatch):
    """FID against sampling steps (issue: DDIM 10/20/50/100, DDPM all T) with Fashion-MNIST classifier features;
    the slow DDPM row uses at most DDPM_EVAL_SAMPLES samples and gets a floor at its own count."""
    from zoo.evaluation import evaluate
    from zoo.models import ddpm

    monkeypatch.setattr(ddpm, "DDPM_EVAL_SAMPLES", 8)
    _, export_dir = run
    report = evaluate(zoo.load(export_dir), load_recipe(export_dir / "recipe.toml"), num_samples=16, data_dir=data_dir,
                      kid_subsets=5)
    names = [row["name"] for row in report["rows"]]
    assert names[:5] == ["ddim_10", "ddim_20", "ddim_50", "ddim_100", "ddpm_100"] and names[5].startswith("real floor")
    assert names[6] == "real floor (train vs test, n = 8)" and len(names) == 7
    assert [row["count"] for row in report["rows"]] == [16, 16, 16, 16, 8, 16, 8]
    assert report["headline"]["fid_floor_ddpm_100"] == report["rows"][6]["fid"] and "8 samples" in report["notes"][-1]
    assert report["features"]["network"] == "classifier-fashion-mnist"
    untrained, floor = report["rows"][0]["fid"], report["rows"][5]["fid"]
    assert np.isfinite(untrained) and untrained > floor  # a two-epoch model is far from the data
