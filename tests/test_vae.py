"""VAE and beta-VAE (and the conditional VAE's export): the ELBO's terms, the IWAE bound, latent tools, exports."""

import json

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import zoo
from conftest import zoo_main
from zoo.artifact.store import load_examples, read_metadata
from zoo.config import DataConfig, load_recipe
from zoo.data import example_batch
from zoo.errors import InputShapeError, RecipeError
from zoo.models import VAE
from zoo.models.vae import evaluate_likelihood
from zoo.train import train

tfd = tfp.distributions
MNIST = DataConfig(dataset="mnist", file="mnist10k.npz")


@pytest.fixture(scope="module")
def mnist(data_dir):
    train_x, train_y = example_batch(MNIST, 9000, data_dir=data_dir, split="train")
    test_x, test_y = example_batch(MNIST, 1000, data_dir=data_dir)
    return train_x, train_y, test_x, test_y


def fit(model, x, y=None, epochs=1, lr=2e-3, jit=False):
    if not getattr(model, "compiled", False) or model.jit_compile != jit:
        model.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=jit)
    return model.fit(x, y, batch_size=100, epochs=epochs, shuffle=False, verbose=0).history


@pytest.fixture(scope="module")
def trained_vae(mnist):
    """A small VAE trained for 4 epochs (360 steps) on dynamically binarized MNIST."""
    keras.utils.set_random_seed(0)
    model = VAE(latent_dim=16, filters=(16, 32), binarize=True)
    fit(model, mnist[0], epochs=4)
    return model


def test_kl_is_the_closed_form_for_gaussians():
    keras.utils.set_random_seed(1)
    model = VAE(latent_dim=6, filters=(8, 16))
    images = np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype("float32")
    mean, stddev, q = model.encode(images)
    mean, stddev = mean.numpy().astype("float64"), stddev.numpy().astype("float64")
    closed = 0.5 * np.sum(mean**2 + stddev**2 - 1.0 - 2.0 * np.log(stddev), axis=-1)
    np.testing.assert_allclose(tfd.kl_divergence(q, model.prior()).numpy(), closed, rtol=1e-5, atol=1e-5)
    terms = model.elbo_terms(tf.constant(images))
    np.testing.assert_allclose(terms.kl_per_dim.numpy().sum(-1), closed, rtol=1e-5, atol=1e-5)
    assert np.all(stddev >= 1e-4)  # softplus plus a floor


def test_beta_and_capacity_shape_the_objective():
    model = VAE(latent_dim=4, filters=(8,), beta=4.0, c_max=25.0, c_steps=100)
    model.compile(optimizer="adam")
    reconstruction, kl = tf.constant([10.0]), tf.constant([30.0])
    assert float(model.capacity()) == 0.0
    assert float(model._objective(reconstruction, kl)[0]) == pytest.approx(10 + 4 * 30)
    model.optimizer.iterations.assign(50)
    assert float(model.capacity()) == pytest.approx(12.5)
    model.optimizer.iterations.assign(1000)
    assert float(model.capacity()) == pytest.approx(25.0)
    assert float(model._objective(reconstruction, kl)[0]) == pytest.approx(10 + 4 * 5)
    plain = VAE(latent_dim=4, filters=(8,))
    assert float(plain._objective(reconstruction, kl)[0]) == pytest.approx(40.0)


@pytest.mark.isolated
@pytest.mark.parametrize("precision,jit", [("float32", False), ("mixed_bfloat16", False), ("float32", True)])
def test_training_lowers_the_negative_elbo(mnist, policy, precision, jit):
    policy(precision)
    keras.utils.set_random_seed(0)
    model = VAE(latent_dim=8, filters=(16, 32), binarize=True)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=jit)
    assert model.jit_compile is jit  # not silently dropped
    before = model.evaluate(mnist[2][:500], batch_size=100, verbose=0, return_dict=True)["loss"]
    history = fit(model, mnist[0][:3000], epochs=2, jit=jit)
    after = model.evaluate(mnist[2][:500], batch_size=100, verbose=0, return_dict=True)["loss"]
    assert np.all(np.isfinite(history["loss"]))
    assert after < 0.5 * before, (before, after)  # ~540 nats per digit untrained, ~200 after 60 steps
    mean, stddev, q = model.encode(mnist[2][:4])
    assert mean.dtype == tf.float32 and stddev.dtype == tf.float32  # distributions are built in float32


def test_every_likelihood_trains(mnist):
    for likelihood in ("continuous_bernoulli", "normal"):
        keras.utils.set_random_seed(0)
        model = VAE(latent_dim=8, filters=(16, 32), likelihood=likelihood)
        history = fit(model, mnist[0][:2000], epochs=2)
        assert history["loss"][-1] < history["loss"][0] and np.all(np.isfinite(history["loss"]))
        out = model.sample(3).numpy()
        assert out.shape == (3, 28, 28, 1) and 0 <= out.min() and out.max() <= 1


def test_iwae_bound_is_above_the_elbo_and_grows_with_k(trained_vae, mnist):
    binary = (np.random.default_rng(0).random(mnist[2][:200].shape) < mnist[2][:200]).astype("float32")
    bounds = {k: float(np.mean(trained_vae.log_likelihood(binary, k, seed=3))) for k in (1, 10, 100)}
    assert bounds[1] < bounds[10] < bounds[100], bounds
    assert bounds[100] - bounds[1] > 1.0  # nats: a real gap, not noise
    assert -bounds[1] < 200  # a trained model: far below the ~540 nats of an untrained one


def test_active_units_count_latents_the_encoder_uses(trained_vae, mnist):
    active = trained_vae.active_units(mnist[2][:500])
    assert 1 <= active <= 16
    kl = trained_vae.kl_per_dimension(mnist[2][:500])
    assert kl.shape == (16,) and np.all(kl >= 0)


def test_evaluate_likelihood_reports_nats_and_bits(trained_vae, mnist):
    result = evaluate_likelihood(trained_vae, mnist[2][:100], k=20, batch_size=50)
    assert result["examples"] == 100 and result["binarized"]
    assert result["iwae_nll_nats"] < result["neg_elbo_nats"]
    assert result["iwae_nll_bits_per_dim"] == pytest.approx(result["iwae_nll_nats"] / (784 * np.log(2)))


def test_score_flags_outliers(trained_vae, mnist, data_dir):
    fashion, _ = example_batch(DataConfig(dataset="fashion_mnist"), 100, data_dir=data_dir)
    rng = np.random.default_rng(1)
    digits = (rng.random(mnist[2][:100].shape) < mnist[2][:100]).astype("float32")
    clothes = (rng.random(fashion.shape) < fashion).astype("float32")
    assert np.median(trained_vae.score(clothes, k=10)) > np.median(trained_vae.score(digits, k=10)) + 50


def test_traversal_changes_only_the_chosen_latent(trained_vae, mnist):
    values = np.linspace(-3, 3, 5).astype("float32")
    images, codes = trained_vae.traverse(mnist[2][0], [2, 5], values)
    base = trained_vae.encode(mnist[2][:1]).mean.numpy()[0]
    assert images.shape == (10, 28, 28, 1) and codes.shape == (10, 16)
    for row, dim in enumerate([2, 5]):
        block = codes[row * 5:(row + 1) * 5]
        np.testing.assert_array_equal(block[:, dim], values)
        others = np.delete(block, dim, axis=1)
        np.testing.assert_array_equal(others, np.repeat(np.delete(base, dim)[None], 5, axis=0))
    assert float(np.abs(images[0] - images[4]).max()) > 0.1  # moving the latent changes the picture
    with pytest.raises(InputShapeError, match="out of range"):
        trained_vae.traverse(mnist[2][0], [16], values)


def test_interpolation_runs_between_the_two_posteriors(trained_vae, mnist):
    path = trained_vae.interpolate(mnist[2][0], mnist[2][1], steps=6).numpy()
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[0], trained_vae.reconstruct(mnist[2][:1]).numpy()[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], trained_vae.reconstruct(mnist[2][1:2]).numpy()[0], atol=1e-5)


def test_recipes_are_checked_across_sections(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nfamily = "cvae"\n[data]\ndataset = "mnist"\n')
    with pytest.raises(RecipeError, match="needs data.labels = true"):
        load_recipe(bad)
    bad.write_text('[model]\nfamily = "vae"\nlikelihood = "normal"\nbinarize = true\n')
    with pytest.raises(RecipeError, match='binarize = true .* goes with likelihood = "bernoulli"'):
        load_recipe(bad)


TINY_CVAE = """
name = "tiny-cvae"
[model]
family = "cvae"
latent_dim = 4
filters = [8, 16]
binarize = true
[data]
dataset = "mnist"
file = "mnist10k.npz"
labels = true
max_examples = 600
[train]
epochs = 1
steps_per_epoch = 6
validation_steps = 2
batch_size = 50
[export]
num_examples = 5
"""


@pytest.mark.parametrize("family", ["vae", "cvae", "cvae-label-maps", "vae-class-prior", "cvae-class-prior"])
def test_exports_round_trip(family, tmp_path, data_dir):
    text = TINY_CVAE if not family.startswith("vae") else TINY_CVAE.replace('"cvae"', '"vae"').replace("labels = true\n", "")
    if family == "cvae-label-maps":  # the label also beside every decoder stage
        text = text.replace("binarize = true\n", "binarize = true\nlabel_maps = true\n")
    class_prior = family.endswith("class-prior")
    if class_prior:  # Gaussians per class fitted after the epoch, shipped in model.keras and prior.json
        text = text.replace("binarize = true\n", 'binarize = true\nprior = "class_gaussians"\n')
    family = family.split("-")[0]
    (tmp_path / "tiny.toml").write_text(text)
    result = train(load_recipe(tmp_path / "tiny.toml"), tmp_path / "run", data_dir=data_dir, verbose=0)
    folder = result.export_dir
    meta = read_metadata(folder)
    assert [e["name"] for e in meta["endpoints"]] == ["generate", "encode", "decode", "reconstruct"]
    assert meta["parity"]["max_abs_diff"] <= 1e-4
    assert (folder / "encoder.onnx").is_file() and (folder / "decoder.onnx").is_file()

    model = zoo.load(folder)
    assert int(model.optimizer.iterations.numpy()) == 6
    maps = [layer.name for layer in model.decoder.layers if "label_map" in layer.name]
    assert len(maps) == (3 if "label_maps = true" in text else 0), maps  # the reshape and one per stage
    examples = load_examples(folder)
    labels = examples.get("labels")
    extra = {"labels": labels} if family == "cvae" else {}
    mean, stddev, _ = model.encode(examples["images"], labels)
    np.testing.assert_allclose(mean.numpy(), examples["encode.mean"], atol=1e-5)
    np.testing.assert_allclose(model.decode(examples["z"], labels).numpy(), examples["decode.images"], atol=1e-5)

    saved = tf.saved_model.load(str(folder / "saved_model"))
    generate_extra = dict(extra, **({"component": examples["component"]} if class_prior and family == "vae" else {}))
    got = saved.signatures["generate"](z=tf.constant(examples["z"]), **{k: tf.constant(v) for k, v in generate_extra.items()})
    np.testing.assert_allclose(got["images"].numpy(), examples["generate.images"], atol=1e-4)
    assert model.fits_prior == class_prior and (folder / "prior.json").is_file() == class_prior
    if class_prior:  # the fit is in the model: generate maps N(0, I) draws through it, decode does not
        prior = json.loads((folder / "prior.json").read_text())
        np.testing.assert_allclose(prior["loc"], model.prior_loc.numpy(), atol=1e-6)
        assert np.abs(model.prior_loc.numpy()).max() > 0.01  # fitted, not the initial N(0, I)
        assert np.abs(examples["generate.images"] - examples["decode.images"]).max() > 1e-3
        k = generate_extra.get("labels", generate_extra.get("component"))
        z = np.asarray(prior["loc"])[k] + np.einsum("nij,nj->ni", np.asarray(prior["scale_tril"])[k], examples["z"])
        np.testing.assert_allclose(model.decode(z.astype("float32"), labels).numpy(), examples["generate.images"],
                                   atol=1e-4)
    decoder = ort.InferenceSession(str(folder / "decoder.onnx"))
    assert [i.name for i in decoder.get_inputs()] == ["z"] + list(extra)
    np.testing.assert_allclose(decoder.run(None, {"z": examples["z"], **extra})[0], examples["decode.images"], atol=1e-4)
    encoder = ort.InferenceSession(str(folder / "encoder.onnx"))
    onnx_out = dict(zip([o.name for o in encoder.get_outputs()],
                        encoder.run(None, {"images": examples["images"], **extra})))
    np.testing.assert_allclose(onnx_out["stddev"], examples["encode.stddev"], atol=1e-4)

    # the CLI's VAE commands on the artifact
    for command in (["traverse", folder, "--dims", "0-3", "-o", tmp_path / "t.png"],
                    ["interpolate", folder, "-o", tmp_path / "i.png"],
                    ["sample", folder, "-n", "8", "-o", tmp_path / "s.png"] + (["--label", "3"] if family == "cvae" else [])):
        out = zoo_main(*command)
        assert out.returncode == 0, out.stderr[-2000:]
    out = zoo_main("eval-likelihood", folder, "--k", "5", "--max-examples", "50", "--data-dir", data_dir)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout[:out.stdout.rindex("}") + 1])
    assert report["examples"] == 50 and report["iwae_nll_nats"] > 0


def test_resume_draws_the_same_noise_as_an_uninterrupted_run(tmp_path, data_dir):
    """Binarization and z are drawn from (seed, step): a resumed VAE ends with the uninterrupted run's weights."""
    import h5py

    from zoo.train import latest_checkpoint

    (tmp_path / "tiny.toml").write_text(TINY_CVAE.replace("epochs = 1", "epochs = 2"))
    straight = train(load_recipe(tmp_path / "tiny.toml"), tmp_path / "straight", data_dir=data_dir, export=False, verbose=0)
    train(load_recipe(tmp_path / "tiny.toml", overrides=["train.epochs=1"]), tmp_path / "resumed", data_dir=data_dir,
          export=False, verbose=0)
    train(load_recipe(tmp_path / "tiny.toml"), tmp_path / "resumed", data_dir=data_dir, resume=True, export=False,
          verbose=0)

    def weights(run):
        out = {}
        with h5py.File(latest_checkpoint(run) / "model.weights.h5", "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out

    a, b = weights(straight.run_dir), weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_class_prior_matches_the_posterior_draws_of_each_class(trained_vae, mnist):
    """fit_prior moment-matches one Gaussian per class; sampling picks classes by their weights; the IWAE bound
    under the fitted prior is finite and the KL of training still pulls toward N(0, I)."""
    train_x, train_y = mnist[0][:3000], mnist[1][:3000]
    model = VAE(latent_dim=16, filters=(16, 32), binarize=True, prior="class_gaussians")
    for net in ("encoder", "decoder"):  # the trained networks; the prior is fitted below
        getattr(model, net).set_weights(getattr(trained_vae, net).get_weights())
    model.fit_prior(train_x, train_y, seed=3)
    means = trained_vae.encode(train_x).mean.numpy()
    for k in (0, 7):
        np.testing.assert_allclose(model.prior_loc.numpy()[k], means[train_y == k].mean(0), atol=0.1)
        cov = model.prior_scale_tril.numpy()[k] @ model.prior_scale_tril.numpy()[k].T
        assert np.all(np.diag(cov) >= means[train_y == k].var(0) * 0.9)  # draws add the posterior's own variance
    np.testing.assert_allclose(model.prior_weights.numpy(), np.bincount(train_y, minlength=10) / 3000, atol=1e-6)
    counts = np.bincount(model._components(4000, 0, None).numpy(), minlength=10) / 4000
    np.testing.assert_allclose(counts, model.prior_weights.numpy(), atol=0.03)
    assert np.all(np.isfinite(model.log_likelihood(mnist[2][:50], k=5).numpy()))
    np.testing.assert_allclose(model.kl_per_dimension(mnist[2][:50]), trained_vae.kl_per_dimension(mnist[2][:50]),
                               rtol=1e-5)
    with pytest.raises(InputShapeError, match="one label"):
        model.fit_prior(train_x[:10], np.full(10, 10))
