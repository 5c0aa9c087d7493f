"""The GAN families: the gradient penalty is exact, loss scaling is right, they train on real data, resume and export."""

import json
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from PIL import Image

from conftest import ROOT, read_h5, resumed_and_straight, tiny_run, zoo_main
from zoo.config import DataConfig, load_recipe, recipe_from_dict
from zoo.data import example_batch
from zoo.errors import InputShapeError, RecipeError
from zoo.artifact.export import export_model
from zoo.models import CGAN, DCGAN, WGANGP
from zoo.models.adversarial import slerp
from zoo.models.wgan_gp import gradient_penalty
from zoo.train import build_model, checkpoints

TINY = dict(latent_dim=16, generator_filters=(32, 16), discriminator_filters=(16, 32))
FAMILIES = {"dcgan": (DCGAN, {}), "cgan": (CGAN, {}), "wgan_gp": (WGANGP, {"n_critic": 2})}


@pytest.fixture(scope="module")
def fashion(data_dir):
    images, _ = example_batch(DataConfig(dataset="fashion_mnist", value_range=(-1.0, 1.0)), 2048, data_dir=data_dir,
                              split="train")
    return images


@pytest.fixture(scope="module")
def digits(data_dir):
    return example_batch(DataConfig(dataset="mnist", file="mnist10k.npz", value_range=(-1.0, 1.0)), 1024,
                         data_dir=data_dir, split="train")


def tiny(family, **kwargs):
    keras.utils.set_random_seed(0)
    cls, defaults = FAMILIES[family]
    model = cls(**{**TINY, **defaults, **kwargs})
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return model


def trainables(model):
    return [v.numpy().copy() for v in model.generator.trainable_variables + model.discriminator.trainable_variables]


# ---------------------------------------------------------------- the gradient penalty


def linear_critic(w):
    """f(x) = w . x over the flattened image."""
    images = keras.Input((28, 28, 1))
    dense = keras.layers.Dense(1, use_bias=False)
    critic = keras.Model(images, dense(keras.layers.Flatten()(images)))
    dense.kernel.assign(np.reshape(w, (-1, 1)))
    return critic


@pytest.mark.parametrize("norm", [0.3, 1.0, 2.5])
def test_gradient_penalty_of_a_linear_critic_is_exact(norm):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(28 * 28)
    w *= norm / np.linalg.norm(w)
    real, fake = rng.uniform(-1, 1, (2, 5, 28, 28, 1)).astype("float32")
    alpha = rng.uniform(0, 1, (5, 1, 1, 1)).astype("float32")
    penalty = gradient_penalty(linear_critic(w.astype("float32")), real, fake, alpha, weight=10.0).numpy()
    np.testing.assert_allclose(penalty, np.full(5, 10.0 * (np.linalg.norm(w.astype("float32")) - 1.0) ** 2),
                               rtol=1e-5, atol=1e-6)


def test_gradient_penalty_stays_finite_where_the_critic_is_flat():
    critic = linear_critic(np.zeros(28 * 28, "float32"))  # grad f = 0: a plain sqrt would give a NaN gradient
    real, fake = np.ones((2, 3, 28, 28, 1), "float32")
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(critic, real, fake, np.full((3, 1, 1, 1), 0.5, "float32"), weight=10.0)
        total = tf.reduce_sum(penalty)
    gradient = tape.gradient(total, critic.trainable_variables)[0]
    np.testing.assert_allclose(penalty.numpy(), 10.0, rtol=1e-5)
    assert np.all(np.isfinite(gradient.numpy()))


def test_interpolation_weights_are_uniform_per_example(monkeypatch):
    from zoo.models import wgan_gp

    seen = []
    real_penalty = wgan_gp.gradient_penalty
    monkeypatch.setattr(wgan_gp, "gradient_penalty", lambda *a, **k: seen.append(a[3]) or real_penalty(*a, **k))
    model = tiny("wgan_gp")
    real = np.zeros((256, 28, 28, 1), "float32")
    model.discriminator_losses(real, real, None, tf.constant([1, 2], "int64"))
    alpha = seen[0].numpy()
    assert alpha.shape == (256, 1, 1, 1) and alpha.min() >= 0 and alpha.max() < 1
    assert abs(alpha.mean() - 0.5) < 0.06 and 0.25 < alpha.std() < 0.33  # U(0, 1): std 0.289 (a normal would be 1)


# ---------------------------------------------------------------- mixed precision


def test_a_mixed_float16_critic_step_matches_float32(policy):
    model32 = tiny("wgan_gp", n_critic=1)
    policy("mixed_float16")
    model16 = tiny("wgan_gp", n_critic=1)
    policy("float32")
    model16.set_weights(model32.get_weights())
    optimizer = model16.discriminator_optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model16.generator_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model16.discriminator.get_layer("discriminator_conv0").compute_dtype == "float16"

    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    fake = model32.generate(16, seed=1).numpy()
    losses32, grads32 = model32.discriminator_gradients(real, fake, seed=(3, 4))
    while True:  # what the LossScaleOptimizer does: halve the scale until the scaled gradients are finite
        losses16, grads16 = model16.discriminator_gradients(real, fake, seed=(3, 4))
        if all(np.all(np.isfinite(g.numpy())) for g in grads16):
            break
        optimizer.dynamic_scale.assign(optimizer.dynamic_scale / 2)
    assert float(optimizer.dynamic_scale) >= 2**8  # the scale still protects small gradients
    assert float(losses32["gp"]) > 1.0  # a penalty that matters, computed from the inner (scaled) gradient
    np.testing.assert_allclose(float(losses16["loss"]), float(losses32["loss"]), rtol=1e-2)
    for g16, g32, v in zip(grads16, grads32, model32.discriminator.trainable_variables):
        assert g16.dtype == "float32"
        error = float(tf.norm(g16 - g32))
        assert error <= 3e-2 * float(tf.norm(g32)) + 1e-6, (v.path, error, float(tf.norm(g32)))


def test_an_injected_inf_skips_the_step_and_lowers_the_loss_scale(policy):
    policy("mixed_float16")
    model = tiny("wgan_gp", n_critic=1)
    policy("float32")
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    poisoned = real.copy()
    poisoned[3, 10, 10, 0] = np.inf  # the critic's loss and gradients become non-finite
    model.generator_optimizer.dynamic_scale.assign(2.0**40)  # scaled generator gradients overflow float16
    before = trainables(model)
    scales = float(model.discriminator_optimizer.dynamic_scale), float(model.generator_optimizer.dynamic_scale)

    logs = model.train_on_batch(poisoned, return_dict=True)
    for a, b in zip(before, trainables(model)):
        np.testing.assert_array_equal(a, b)
    assert float(model.discriminator_optimizer.dynamic_scale) == scales[0] / 2
    assert float(model.generator_optimizer.dynamic_scale) == scales[1] / 2
    assert int(model.discriminator_optimizer.iterations) == int(model.generator_optimizer.iterations) == 0
    assert all(np.isfinite(v) for v in logs.values())  # skipped updates are not averaged into the metrics

    for _ in range(40):  # on clean data the scales come down until the updates go through
        model.train_on_batch(real)
        if int(model.generator_optimizer.iterations) > 0:
            break
    assert int(model.discriminator_optimizer.iterations) > 0 and int(model.generator_optimizer.iterations) > 0
    assert float(model.generator_optimizer.dynamic_scale) <= 2.0**20
    assert not all(np.array_equal(a, b) for a, b in zip(before, trainables(model)))


# ---------------------------------------------------------------- training on real data


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("precision,jit", [("float32", False), ("mixed_bfloat16", False),
                                           pytest.param("float32", True, marks=pytest.mark.isolated)],
                         ids=["float32", "mixed_bfloat16", "xla"])
def test_each_family_trains_on_real_data(family, precision, jit, fashion, digits, policy):
    policy(precision)
    model = tiny(family)
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5), jit_compile=jit)
    assert model.jit_compile is jit  # really compiled with XLA (Keras falls back silently, with a warning)
    assert model.generator.get_layer("generator_deconv0").compute_dtype == precision.replace("mixed_", "")
    batch = 64 if family == "wgan_gp" else 32  # WGAN-GP: two critic updates of 32
    before = model.sample(16, seed=0).numpy()
    if family == "cgan":
        history = model.fit(digits[0][:1024], digits[1][:1024], batch_size=batch, epochs=1, verbose=0)
    else:
        history = model.fit(fashion[: 32 * batch], batch_size=batch, epochs=1, verbose=0)
    assert int(model.generator_optimizer.iterations) == 32
    assert int(model.discriminator_optimizer.iterations) == 32 * (2 if family == "wgan_gp" else 1)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert set(logs) >= {"d_loss", "g_loss"} and all(np.isfinite(v) for v in logs.values()), logs
    samples = model.sample(16, seed=0).numpy()
    assert samples.dtype == "float32" and np.all(np.abs(samples) <= 1)
    assert np.abs(samples - before).mean() > 1e-3  # the generator was updated
    real = (digits[0][-64:], digits[1][-64:]) if family == "cgan" else (fashion[-64:], None)
    fakes = model.sample(64, seed=1, labels=real[1]).numpy()
    assert model.discriminate(*real).numpy().mean() > model.discriminate(fakes, real[1]).numpy().mean()  # it tells them apart


def test_labels_change_the_conditional_generator_output():
    model = tiny("cgan")
    z = model.latents(4, seed=0)
    zeros, threes = model.generate(z, 0).numpy(), model.generate(z, [3, 3, 3, 3]).numpy()
    assert np.abs(zeros - threes).mean() > 1e-3
    np.testing.assert_array_equal(model.generate(z, 3).numpy(), threes)
    scores = [model.discriminate(threes, label).numpy() for label in (0, 3)]
    assert np.abs(scores[0] - scores[1]).max() > 1e-4  # the projection discriminator reads the labels too
    with pytest.raises(InputShapeError, match=r"labels must be in \[0, 10\)"):
        model.generate(z, 10)
    with pytest.raises(InputShapeError, match="conditional: pass labels"):
        model.generate(z)
    with pytest.raises(InputShapeError, match="unconditional"):
        tiny("dcgan").generate(z, 3)
    with pytest.raises(InputShapeError, match=r"z must have shape \(batch, 16\)"):
        model.generate(np.zeros((2, 8), "float32"), 1)


def test_preview_is_a_fixed_latent_batch_and_interpolation_is_spherical():
    model = tiny("cgan")
    grid = model.preview(None, None)
    assert grid.shape == (100, 28, 28, 1)  # one row per class, one latent code per column
    np.testing.assert_array_equal(grid, model.preview(None, None))
    unconditional = tiny("dcgan")
    assert unconditional.preview(None, None).shape == (64, 28, 28, 1)

    a, b = unconditional.latents(2, seed=5)
    path = slerp(a, b, 7)
    np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-6)
    unit = slerp(a / np.linalg.norm(a), b / np.linalg.norm(b), 7)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)  # stays on the sphere
    assert unconditional.interpolate(a, b, steps=5).shape == (5, 28, 28, 1)


@pytest.mark.parametrize("family", ["dcgan", "wgan_gp"])
def test_the_generator_average_follows_training_generates_and_survives_saving(family, fashion, tmp_path):
    model = tiny(family, ema_decay=0.9)
    plain = tiny(family)
    assert plain.ema_generator is None and model.sampling_generator is model.ema_generator
    for a, b in zip(model.ema_generator.weights, model.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # the average starts at the initial weights
    batch = fashion[:64]
    averages = [w.numpy().astype("float64") for w in model.generator.weights]
    for step in range(3):
        model.train_on_batch(batch)
        decay = min(0.9, (1 + step) / (10 + step))  # the warm-up of the first steps
        averages = [decay * a + (1 - decay) * w.numpy() for a, w in zip(averages, model.generator.weights)]
    for want, got in zip(averages, model.ema_generator.weights):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    z = model.latents(4, seed=0)
    average, trained = model.ema_generator(z, training=False).numpy(), model.generator(z, training=False).numpy()
    assert np.abs(average - trained).max() > 1e-4  # three updates apart: the two networks differ
    np.testing.assert_allclose(model.generate(z).numpy(), average, atol=1e-6)  # samples come from the average
    np.testing.assert_allclose(model(z).numpy(), average, atol=1e-6)
    model.save(tmp_path / "ema.keras")
    loaded = keras.models.load_model(tmp_path / "ema.keras")
    assert loaded.ema_decay == 0.9
    np.testing.assert_array_equal(loaded.generate(z).numpy(), model.generate(z).numpy())


# ---------------------------------------------------------------- save and load


@pytest.mark.parametrize("family,precision", [("dcgan", "float32"), ("wgan_gp", "mixed_float16")])
def test_save_and_load_resume_training_with_both_optimizers(family, precision, fashion, tmp_path, policy):
    policy(precision)
    model = tiny(family)
    batch = fashion[:64]
    for _ in range(3):
        model.train_on_batch(batch)
    path = tmp_path / "gan.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.dtype_policy.name == precision
    for role in ("generator_optimizer", "discriminator_optimizer"):
        mine, theirs = getattr(model, role), getattr(loaded, role)
        assert type(theirs) is type(mine) and theirs.learning_rate.numpy() == pytest.approx(2e-4)
        assert int(theirs.iterations) == int(mine.iterations) > 0
        assert len(theirs.variables) == len(mine.variables)
        for a, b in zip(mine.variables, theirs.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(loaded.train_steps) == 3

    model.train_on_batch(batch)  # the same next step: the same noise (keyed by train_steps), the same weights
    loaded.train_on_batch(batch)
    for a, b in zip(trainables(model), trainables(loaded)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert int(loaded.generator_optimizer.iterations) == int(model.generator_optimizer.iterations)
    assert int(loaded.discriminator_optimizer.iterations) == int(model.discriminator_optimizer.iterations)


# ---------------------------------------------------------------- recipes, runner, export, CLI


TINY_CGAN = """
name = "tiny-cgan"
[model]
family = "cgan"
latent_dim = 8
generator_filters = [16, 8]
discriminator_filters = [8, 16]
[data]
dataset = "mnist"
file = "mnist10k.npz"
value_range = [-1.0, 1.0]
labels = true
max_examples = 512
[optimizer.generator]
learning_rate = 2e-4
beta_1 = 0.5
[optimizer.discriminator]
learning_rate = 2e-4
beta_1 = 0.5
""" + tiny_run(steps_per_epoch=3, batch_size=32, validation_steps=2)


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory, data_dir):
    """A tiny conditional GAN: one epoch, a resume to the second with export, and a straight two-epoch run."""
    folder = tmp_path_factory.mktemp("cgan")
    _, result = resumed_and_straight(folder, TINY_CGAN, data_dir)
    return folder, result


def test_runner_checkpoints_both_optimizers_and_resumes_exactly(cgan_run):
    folder, result = cgan_run
    assert result.epochs == 2 and [c.name for c in checkpoints(folder / "resumed")] == ["epoch-0001", "epoch-0002"]
    resumed, straight = (read_h5(checkpoints(folder / run)[-1] / "model.weights.h5") for run in ("resumed", "straight"))
    assert resumed.keys() == straight.keys()
    for role in ("generator_optimizer", "discriminator_optimizer"):
        iterations = [v for k, v in resumed.items() if k.startswith(role) and k.endswith("vars/0")]
        assert iterations == [6], (role, [k for k in resumed if k.startswith(role)][:4])
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
    assert sorted(p.name for p in (folder / "resumed" / "samples").iterdir()) == ["epoch-0001.png", "epoch-0002.png"]
    history = (folder / "resumed" / "history.csv").read_text().splitlines()
    assert history[0].split(",")[1:] == ["d_loss", "g_loss", "val_d_loss", "val_g_loss"]


def test_conditional_export_matches_keras_in_every_format(cgan_run):
    artifact = cgan_run[1].export_dir
    meta = json.loads((artifact / "metadata.json").read_text())
    assert meta["family"] == "cgan" and meta["parity"]["max_abs_diff"] <= 1e-4
    assert [e["name"] for e in meta["endpoints"]] == ["generate"]
    assert [i["name"] for i in meta["endpoints"][0]["inputs"]] == ["z", "labels"]
    assert "(images + 1) / 2" in meta["endpoints"][0]["outputs"][0]["postprocess"]
    assert {"generator", "discriminator"} <= set(meta["parameters"])
    assert (artifact / "samples.png").is_file()

    model = keras.models.load_model(artifact / "model.keras")
    assert int(model.generator_optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 6
    saved = tf.saved_model.load(str(artifact / "saved_model"))
    session = ort.InferenceSession(str(artifact / "generator.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "labels"]
    assert [o.name for o in session.get_outputs()] == ["images"]
    for batch in (1, 7):
        z = model.latents(batch, seed=batch)
        labels = np.arange(batch, dtype="int32") % 10
        expected = model.generate(z, labels).numpy()
        got = saved.signatures["generate"](z=tf.constant(z), labels=tf.constant(labels))["images"].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(session.run(None, {"z": z, "labels": labels})[0], expected, atol=1e-4, rtol=0)


def test_zoo_sample_writes_a_grid_of_one_class(cgan_run, tmp_path):
    out = tmp_path / "threes.png"
    result = zoo_main("sample", cgan_run[1].export_dir, "-n", "16", "--label", "3", "-o", out, "--scale", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "label 3" in result.stdout
    picture = np.asarray(Image.open(out))
    assert picture.shape == (2 + 4 * 30, 2 + 4 * 30)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_wgan_gp_exports_a_float32_generator(precision, data_dir, tmp_path, policy):
    recipe = load_recipe(ROOT / "recipes" / "wgan_gp_fashion_mnist.toml", overrides=[
        "model.latent_dim=8", "model.generator_filters=[16, 8]", "model.discriminator_filters=[8, 16]",
        "model.n_critic=2", "train.batch_size=16", f"train.precision='{precision}'", "export.num_examples=4"])
    policy(precision)
    model = build_model(recipe)
    model.fit(example_batch(recipe.data, 64, data_dir=data_dir, split="train")[0], batch_size=16, verbose=0)
    artifact = export_model(model, recipe, tmp_path / "wgan", data_dir=data_dir)
    policy("float32")
    meta = json.loads((artifact / "metadata.json").read_text())
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and set(meta["parity"]["by_format"]) == {"keras", "saved_model", "onnx"}
    session = ort.InferenceSession(str(artifact / "generator.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z"] and session.get_inputs()[0].shape[0] != 1
    assert session.get_outputs()[0].type == "tensor(float)"
    z = model.latents(7, seed=0)
    reference = model.generate(z).numpy()  # 16-bit compute: close, not within 1e-4
    np.testing.assert_allclose(session.run(None, {"z": z})[0], reference, atol=0.05)
    reloaded = keras.models.load_model(artifact / "model.keras")
    assert reloaded.dtype_policy.name == "float32"  # trained mixed, shipped float32, with the optimizers' state
    assert not isinstance(reloaded.generator_optimizer, keras.optimizers.LossScaleOptimizer)
    for role in ("generator", "discriminator"):  # the state the optimizers trained with (under loss scaling, the
        trained = getattr(model, f"{role}_optimizer")  # inner optimizer's: steps skipped at a too-high scale don't count)
        trained = trained.inner_optimizer if isinstance(trained, keras.optimizers.LossScaleOptimizer) else trained
        assert int(getattr(reloaded, f"{role}_optimizer").iterations) == int(trained.iterations) > 0
    if precision == "mixed_bfloat16":  # no loss scaling, no skipped steps
        assert int(reloaded.discriminator_optimizer.iterations) == 2 * int(reloaded.generator_optimizer.iterations) == 8

    from zoo.cli import main

    assert main(["sample", str(artifact), "--label", "3", "-o", str(tmp_path / "x.png")]) == 1  # unconditional
    assert main(["sample", str(artifact), "-n", "4", "-o", str(tmp_path / "four.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "four.png")).shape == (2 * (2 + 2 * 30), 2 * (2 + 2 * 30))


def test_dcgan_64_rgb_recipe_builds_and_generates_64x64_rgb():
    recipe = load_recipe(ROOT / "recipes" / "dcgan_64_rgb.toml", overrides=["train.precision='float32'"])
    model = DCGAN.from_recipe(recipe)
    images = model.sample(2, seed=0).numpy()
    assert images.shape == (2, 64, 64, 3) and np.all(np.abs(images) <= 1)
    assert model.discriminate(images).shape == (2,)
    assert model.generator.get_layer("generator_dense").output.shape[-1] == 4 * 4 * 512


@pytest.mark.parametrize("change,message", [
    ({"data": {"value_range": [0.0, 1.0]}}, r"data.value_range = \[-1.0, 1.0\]"),
    ({"data": {"labels": False}}, "conditional: set data.labels = true"),
    ({"data": {"image_size": [30, 30]}}, "not divisible by 4"),
    ({"data": {"classes": [3, 12]}}, "raise num_classes"),
])
def test_recipe_mistakes_are_named(change, message):
    import tomllib

    raw = tomllib.loads(TINY_CGAN)
    for section, values in change.items():
        raw[section].update(values)
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw, source="my.toml")


def test_wgan_gp_batch_must_split_into_critic_batches():
    with pytest.raises(RecipeError, match="not divisible by n_critic = 5"):
        load_recipe(ROOT / "recipes" / "wgan_gp_fashion_mnist.toml", overrides=["train.batch_size=128"])


def test_recipes_ship_for_every_gan_family():
    shipped = {load_recipe(p).family for p in Path(ROOT / "recipes").glob("*.toml")}
    assert {"dcgan", "cgan", "wgan_gp"} <= shipped
