"""Noise schedules, samplers and the U-Net, apart from any training: the forward process is exact, the samplers
are the papers' (and draw the data distribution given the exact denoiser), the network takes any timestep."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.diffusion import NoiseSchedule, SamplerSettings, compile_sampler
from zoo.diffusion.schedules import cosine_alphas_cumprod
from zoo.diffusion.reference import ddim_timesteps, dpmpp_2m_coefficients
from zoo.nets.unet import unet


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
    table = {k: v[::-1] for k, v in s.ddpm_table("fixed_small").items()}  # ascending t
    assert list(table["timesteps"]) == list(range(200))
    ab_prev, alpha, beta = s.alphas_cumprod_prev[1:], s.alphas[1:], s.betas[1:]  # t >= 1: x_t-1 is noisy
    precision = 1.0 / (1.0 - ab_prev) + alpha / beta
    np.testing.assert_allclose(table["sigma"][1:] ** 2, 1.0 / precision, rtol=1e-9)
    np.testing.assert_allclose(table["c_x0"][1:], np.sqrt(ab_prev) / (1 - ab_prev) / precision, rtol=1e-9)
    np.testing.assert_allclose(table["c_xt"][1:], np.sqrt(alpha) / beta / precision, rtol=1e-9)
    assert table["sigma"][0] == 0 and table["c_x0"][0] == pytest.approx(1.0)
    np.testing.assert_allclose(s.ddpm_table("fixed_large")["sigma"][:-1], np.sqrt(s.betas[:0:-1]), rtol=1e-12)


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


@pytest.mark.parametrize("prediction_type", ["epsilon", "v"])
@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_min_snr_weighting_is_min_snr_gamma_times_the_x0_error(prediction_type, schedule_name):
    """Hang et al. (2023): on any prediction target, the weighted loss equals min(SNR, gamma) ||x0_hat - x0||^2."""
    schedule, gamma = NoiseSchedule(schedule_name, 1000), 5.0
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-1, 1, (6, 4, 4, 1)).astype("float32")
    eps = rng.standard_normal(x0.shape).astype("float32")
    t = tf.constant([0, 50, 200, 500, 800, 990])
    x_t = schedule.q_sample(x0, t, eps)
    prediction = schedule.target(x0, eps, t, prediction_type) + 0.1 * rng.standard_normal(x0.shape).astype("float32")
    target_error = tf.reduce_mean(tf.square(prediction - schedule.target(x0, eps, t, prediction_type)), axis=(1, 2, 3))
    weighted = schedule.loss_weight(t, prediction_type, gamma) * target_error
    x0_error = np.mean((schedule.predict_x0(prediction, x_t, t, prediction_type).numpy() - x0) ** 2, axis=(1, 2, 3))
    ab = schedule.alphas_cumprod[t.numpy()]
    np.testing.assert_allclose(weighted, np.minimum(ab / (1 - ab), gamma) * x0_error, rtol=2e-3)
    np.testing.assert_array_equal(schedule.loss_weight(t, prediction_type, 0.0), np.ones(6))


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


@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_dpmpp_2m_is_ddim_at_first_order_and_the_papers_second_order_step(schedule_name):
    """DPM-Solver++ (Lu et al. 2022): its first-order step is DDIM with eta 0 term for term, and the second-order
    steps follow their Algorithm 2, D = (1 + 1/(2r)) x0_i - 1/(2r) x0_(i-1) with r = h_(i-1) / h_i."""
    schedule = NoiseSchedule(schedule_name, 1000)
    for steps in (1, 2, 7, 15, 50):
        ddim, first = schedule.ddim_table(steps, 0.0), schedule.dpmpp_2m_table(steps, order=1)
        second = schedule.dpmpp_2m_table(steps)
        for key in ("timesteps", "sqrt_ab", "sqrt_one_minus_ab", "c_x0", "c_xt", "sigma"):
            np.testing.assert_allclose(first[key], ddim[key], rtol=1e-12, atol=1e-15, err_msg=key)
            # step 0 (no history) and the last step (to the clean image) are first order in 2M too
            np.testing.assert_allclose(second[key][[0, -1]], ddim[key][[0, -1]], rtol=1e-12, atol=1e-15, err_msg=key)
        assert not first["c_prev"].any() and second["c_prev"][0] == 0 and second["c_prev"][-1] == 0
    table = schedule.dpmpp_2m_table(10)
    ab = schedule.alphas_cumprod[table["timesteps"]]
    alpha, sigma = np.sqrt(ab), np.sqrt(1 - ab)
    lam = np.log(alpha / sigma)
    for i in range(1, 9):  # a second-order step from t_i to t_(i+1)
        h, r = lam[i + 1] - lam[i], (lam[i] - lam[i - 1]) / (lam[i + 1] - lam[i])
        weight = -alpha[i + 1] * (np.exp(-h) - 1)
        np.testing.assert_allclose([table["c_xt"][i], table["c_x0"][i], table["c_prev"][i]],
                                   [sigma[i + 1] / sigma[i], weight * (1 + 1 / (2 * r)), -weight / (2 * r)], rtol=1e-10)
    # the coefficients of x0 sum to DDIM's: a constant x0 prediction moves x as DDIM's step does
    np.testing.assert_allclose(table["c_x0"][:-1] + table["c_prev"][:-1], schedule.ddim_table(10)["c_x0"][:-1],
                               rtol=1e-12)
    # linspace ends at t = 0: the step into it is first order as well (the final step of the paper's grid)
    linspace, ddim = schedule.dpmpp_2m_table(12, "linspace"), schedule.ddim_table(12, 0.0, "linspace")
    assert linspace["timesteps"][-1] == 0 and linspace["c_prev"][-2] == 0 and np.all(linspace["c_prev"][1:-2] < 0)
    np.testing.assert_allclose(linspace["c_x0"][-2:], ddim["c_x0"][-2:], rtol=1e-12)
    # unless lower_order_final is off: then the step into t = 0 is the same second-order step as the others
    kept = schedule.dpmpp_2m_table(12, "linspace", lower_order_final=False)
    lam = np.log(np.sqrt(schedule.alphas_cumprod[kept["timesteps"]] / (1 - schedule.alphas_cumprod[kept["timesteps"]])))
    h, r = lam[-1] - lam[-2], (lam[-2] - lam[-3]) / (lam[-1] - lam[-2])
    weight = np.sqrt(schedule.alphas_cumprod[0]) * -np.expm1(-h)
    np.testing.assert_allclose([kept["c_x0"][-2], kept["c_prev"][-2]], [weight * (1 + 1 / (2 * r)), -weight / (2 * r)],
                               rtol=1e-10)
    for key in ("c_x0", "c_xt", "c_prev"):  # the steps before are untouched
        np.testing.assert_array_equal(kept[key][:-2], linspace[key][:-2], err_msg=key)
    with pytest.raises(ValueError, match="order must be one of 1, 2"):
        dpmpp_2m_coefficients(schedule.alphas_cumprod, table["timesteps"], order=3)
    with pytest.raises(ValueError, match="eta = 0.5 means nothing to dpmpp_2m"):
        SamplerSettings("dpmpp_2m", 15, eta=0.5)


def test_dpmpp_2m_draws_the_data_distribution_in_few_steps_given_the_exact_denoiser():
    """With the posterior-mean denoiser of N(mu, s^2) data, 2M lands on that distribution in 20 steps (50 on the
    linear schedule), and on the exact solution of the diffusion ODE several times closer than DDIM at the same count;
    at 2 steps (first order, then x0) the compiled graph is DDIM's, number for number.

    The error that remains at few steps is the last, first-order step of either sampler: its x0 from the last
    timestep is a posterior mean, narrower than the data by a factor that grows with that timestep's noise. On the
    linear schedule trailing spacing's last timestep at 20 steps (t = 49) still has noise sigma = 0.17.
    """
    mu, s = 0.2, 0.3
    noise = tf.random.stateless_normal((16, 28, 28, 1), seed=[0, 0])
    for prediction_type, name, steps, spacing in (("v", "cosine", 20, "trailing"), ("v", "cosine", 20, "linspace"),
                                                  ("epsilon", "linear", 50, "trailing")):
        schedule = NoiseSchedule(name, 1000)
        denoiser = gaussian_denoiser(schedule, prediction_type, mu, s)

        def run(sampler, steps, clip=False):
            settings = SamplerSettings(sampler, steps, spacing=spacing, clip_x0=clip)
            return compile_sampler(denoiser, schedule, prediction_type, settings)(noise, 1).numpy()

        x = run("dpmpp_2m", steps)
        assert abs(x.mean() - mu) < 0.01 and abs(x.std() - s) < 0.01, (name, spacing, x.mean(), x.std())
        # the ODE maps N(sqrt(ab_T) mu, ab_T s^2 + 1 - ab_T) linearly onto N(mu, s^2): x_T's exact image
        ab_T = schedule.alphas_cumprod[-1]
        exact = mu + s * (noise.numpy() - np.sqrt(ab_T) * mu) / np.sqrt(ab_T * s**2 + 1 - ab_T)
        error, ddim_error = np.abs(x - exact).max(), np.abs(run("ddim", steps) - exact).max()
        assert error < ddim_error / 3, (name, spacing, error, ddim_error)
        for clip in (False, True):
            np.testing.assert_allclose(run("dpmpp_2m", 2, clip), run("ddim", 2, clip), atol=1e-6)

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
