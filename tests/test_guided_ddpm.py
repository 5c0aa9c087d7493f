"""The class-conditional DDPM with classifier-free guidance: the guidance rule, its effect on a tiny trained model,
exact resume with label dropout, an artifact whose denoiser takes labels, and clear errors."""

import json
import shutil

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import zoo
from conftest import read_h5, resumed_and_straight, tiny_ddpm_recipe, tiny_run, zoo_main
from zoo.app import evaluate_artifact
from zoo.artifact.store import load_examples, read_metadata, update_artifact
from zoo.config import load_recipe
from zoo.errors import InputShapeError, RecipeError
from zoo.eval.sampling import reusable_report
from zoo.models import Capability
from zoo.models.ddpm import GuidedDDPM
from zoo.train import checkpoints

TINY_RECIPE = tiny_ddpm_recipe("tiny-guided-ddpm", guided=True) + tiny_run(steps_per_epoch=4, batch_size=16)


def tiny_model(**kwargs) -> GuidedDDPM:
    options = dict(widths=(8, 16), num_res_blocks=1, attention_resolutions=(), norm_groups=4, schedule="cosine",
                   timesteps=10, sample_steps=4, generate_steps=4, num_classes=3, guidance=2.0)
    return GuidedDDPM(**{**options, **kwargs})


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """One epoch with export, resumed to a second; and a straight two-epoch run."""
    folder = tmp_path_factory.mktemp("guided")
    first, _ = resumed_and_straight(folder, TINY_RECIPE, data_dir, export_first=True)
    return folder, first.export_dir


def test_guidance_zero_is_the_unconditional_prediction_and_one_the_conditional():
    model = tiny_model()
    rng = np.random.default_rng(0)
    x_t = rng.standard_normal((4, 28, 28, 1)).astype("float32")
    t, labels = np.array([0, 3, 6, 9], "int32"), np.array([0, 1, 2, 1], "int32")
    # Random label embeddings and output layer (zero-initialized for training), so the comparisons below have teeth.
    for layer in ("denoiser_label_embedding", "denoiser_conv_out"):
        weights = model.network.get_layer(layer).weights[0]
        weights.assign(rng.normal(0, 0.3, weights.shape).astype("float32"))
    model.ema_network.set_weights(model.network.get_weights())  # the EMA network is what denoise() calls
    unconditional, conditional = model.denoise(x_t, t).numpy(), model.denoise(x_t, t, labels).numpy()
    assert np.abs(unconditional - conditional).max() > 1e-3
    mix = lambda g: model._guided_denoise(tf.constant(x_t), tf.constant(t), tf.constant(labels), g).numpy()  # noqa: E731
    np.testing.assert_allclose(mix(0.0), unconditional, atol=1e-5)
    np.testing.assert_allclose(mix(1.0), conditional, atol=1e-5)
    np.testing.assert_allclose(mix(3.0), unconditional + 3.0 * (conditional - unconditional), atol=1e-4)
    # the sampler's shortcuts at 0 and 1 take the same path as the mix, and the null label is the unconditional model
    noise = rng.standard_normal((4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(model.generate(noise, labels, guidance=0.0).numpy(),
                               model.generate(noise, np.full(4, 3), guidance=1.0).numpy(), atol=1e-5)
    # 1e-3: on an Intel Xeon with AMX the compiled graph and generate() differ from run to run by 1.1e-4 to 4.4e-4
    # after 50 steps of this random network (two pixels of 3,136 at most, 2026-12-08; within 1e-4 on the AMD EPYC);
    # the wrong path (another label or scale) would differ by tenths.
    guided = model.sampler_function(model.sampler_settings(), guided=True)
    np.testing.assert_allclose(guided(noise, tf.constant(0), tf.constant(labels), tf.constant(1.0)).numpy(),
                               model.generate(noise, labels, guidance=1.0).numpy(), atol=1e-3)


def test_label_dropout_follows_cond_drop_and_keeps_the_other_labels():
    model = tiny_model(cond_drop=0.3)
    labels = tf.constant(np.arange(20_000) % 3, tf.int32)
    dropped = model.training_labels(labels, tf.constant([5, 0], tf.int32)).numpy()
    null = dropped == model.null_label
    assert abs(null.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(dropped[~null], labels.numpy()[~null])
    again = model.training_labels(labels, tf.constant([5, 0], tf.int32)).numpy()
    np.testing.assert_array_equal(dropped, again)  # stateless: keyed to the step's seed
    assert (model.training_labels(labels, tf.constant([5, 64], tf.int32)).numpy() != dropped).any()
    assert not (tiny_model(cond_drop=0.0).training_labels(labels, tf.constant([5, 0])).numpy() == 3).any()


def test_guidance_draws_samples_of_the_asked_class_on_a_tiny_trained_model(data_dir):
    # Trousers against bags at 14x14: 200 steps teach the conditional model the two shapes, and the class whose
    # mean image is nearer says what a sample shows. Unconditional samples (guidance 0) are either, about half each.
    with np.load(data_dir / "fashion_mnist.npz") as d:
        x, y = d["x_train"], d["y_train"]
    keep = np.isin(y, (1, 8))
    x, y = x[keep][:2048], (y[keep][:2048] == 8).astype("int32")
    x = tf.nn.avg_pool2d(x[..., None].astype("float32") / 127.5 - 1, 2, 2, "VALID").numpy()
    means = np.stack([x[y == k].mean(0) for k in (0, 1)])
    keras.utils.set_random_seed(0)
    model = GuidedDDPM(image_shape=(14, 14, 1), widths=(16, 32), num_res_blocks=1, attention_resolutions=(),
                       norm_groups=4, schedule="cosine", timesteps=100, sample_steps=10, num_classes=2, cond_drop=0.2,
                       prediction_type="v", ema_decay=0.99)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2048, seed=0).repeat().batch(32)
    model.fit(batches, epochs=1, steps_per_epoch=200, verbose=0)
    labels = np.arange(64) % 2

    def accuracy(guidance):
        images = model.sample(64, labels=labels, guidance=guidance, seed=1).numpy()
        nearest = ((images[:, None] - means[None]) ** 2).sum((2, 3, 4)).argmin(1)
        return (nearest == labels).mean()

    unguided, conditional, guided = accuracy(0.0), accuracy(1.0), accuracy(3.0)
    assert 0.25 <= unguided <= 0.75, unguided  # the label is ignored: chance
    assert conditional >= 0.9 and guided >= 0.9, (conditional, guided)


def test_bad_labels_and_guidance_are_named():
    model = tiny_model()
    with pytest.raises(InputShapeError, match=r"labels must be in \[0, 3\), got 3..3"):
        model.sample(2, labels=3)
    with pytest.raises(InputShapeError, match=r"labels must be in \[0, 3\), got -1"):
        model.sample(2, labels=[-1, 0])
    with pytest.raises(InputShapeError, match="labels must be one id or 2 ids"):
        model.sample(2, labels=[0, 1, 2])
    with pytest.raises(InputShapeError, match="labels must be int class ids"):
        model.sample(2, labels=[0.5, 1])
    with pytest.raises(InputShapeError, match="guidance must be a scale >= 0"):
        model.sample(2, labels=0, guidance=-1)
    with pytest.raises(InputShapeError, match=r"labels must be in \[0, 4\).*3 is the null label"):
        model.denoise(np.zeros((1, 28, 28, 1), "float32"), 0, labels=4)


def test_a_recipe_without_labels_is_refused(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(TINY_RECIPE.replace("labels = true\n", ""))
    with pytest.raises(RecipeError, match="set data.labels = true"):
        load_recipe(path)


def test_resume_is_exact_with_label_dropout(run):
    folder, _ = run
    resumed, straight = (read_h5(checkpoints(folder / name)[-1] / "model.weights.h5") for name in ("resumed", "straight"))
    assert resumed.keys() == straight.keys()
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def test_the_artifact_serves_a_labelled_denoiser_and_a_guided_generate(run):
    artifact = run[1]
    meta = read_metadata(artifact)
    assert "conditional" in meta["capabilities"] and "guidance" in meta["capabilities"]
    assert meta["labels"]["num_classes"] == 10 and meta["labels"]["class_names"][7] == "Sneaker"
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and set(meta["parity"]["by_format"]["onnx"]) == {"denoiser.onnx"}
    schedule = json.loads((artifact / "schedule.json").read_text())
    assert schedule["guidance"]["null_label"] == 10 and schedule["guidance"]["scale"] == 2.0
    model = zoo.load(artifact, verify=False)
    rng = np.random.default_rng(3)
    x_t = rng.standard_normal((5, 28, 28, 1)).astype("float32")
    t, label = rng.integers(0, 100, 5).astype("int32"), np.array([0, 3, 9, 10, 7], "int32")
    ema = model.denoise(x_t, t, label).numpy()
    onnx = ort.InferenceSession(str(artifact / "denoiser.onnx")).run(None, {"x_t": x_t, "t": t, "label": label})[0]
    saved = tf.saved_model.load(str(artifact / "saved_model"))
    np.testing.assert_allclose(onnx, ema, atol=1e-4, rtol=0)
    np.testing.assert_allclose(saved.signatures["denoise"](x_t=x_t, t=t, label=label)["prediction"].numpy(), ema,
                               atol=1e-4, rtol=0)
    noise = rng.standard_normal((3, 28, 28, 1)).astype("float32")
    images = saved.signatures["generate"](noise=noise, label=np.array([1, 5, 10], "int32"))["images"].numpy()
    np.testing.assert_allclose(images, model.generate(noise, [1, 5, 10], steps=8, guidance=2.0).numpy(), atol=1e-3)
    examples = load_examples(artifact)
    assert (examples["label"] == 10).any() and (examples["label"] < 10).any()  # the null label is exercised too


def test_zoo_sample_takes_a_label_and_a_guidance_scale(run, tmp_path):
    artifact = run[1]
    result = zoo_main("sample", artifact, "--label", "7", "--guidance", "3", "--steps", "3", "-n", "4",
                      "-o", tmp_path / "s.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "label 7 (Sneaker)" in result.stdout and "guidance 3.0" in result.stdout
    result = zoo_main("sample", artifact, "--label", "10", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "--label must be in [0, 10), got 10" in result.stderr
    result = zoo_main("sample", artifact, "--guidance", "-0.5", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "--guidance must be a finite scale >= 0" in result.stderr
    assert not (tmp_path / "bad.png").exists()


def test_guidance_is_refused_for_models_without_it(tmp_path):
    assert not zoo.models.families()["ddpm"].can(Capability.GUIDANCE)
    result = zoo_main("sample", "vae-fashion-mnist", "--guidance", "2", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "is not a guided diffusion model" in result.stderr


def test_sampling_curves_go_into_the_card(run, tmp_path, data_dir):
    artifact = tmp_path / "artifact"
    shutil.copytree(run[1], artifact)
    result = zoo_main("sampling-curve", artifact, "--num-samples", "20", "--into-card", "--data-dir", data_dir,
                      "-o", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr[-2000:]
    meta = read_metadata(artifact)  # checksums verified, guidance.png among them
    curve = meta["sampling_curves"]["guidance"]
    assert [row["guidance"] for row in curve["rows"]] == [0, 1, 2, 3, 4, 5] and curve["num_samples"] == 20
    assert all(0 <= row["label_accuracy"] <= 1 and row["fid"] > 0 for row in curve["rows"])
    # rows that zoo eval measured on the same samples are not drawn again: a metrics.json with marked FIDs
    names = [f"ddim_{s}" for s in (10, 20, 50, 100)] + [f"dpmpp_{s}" for s in (10, 15, 20)]
    metrics = {"model": "tiny", "family": "guided_ddpm", "kind": "samples", "created": "2026-12-05T00:00:00Z",
               "seed": 0, "num_samples": 10,
               "rows": [{"name": n, "against": "test split", "count": 10, "fid": 100.0 + i} for i, n in enumerate(names)]}
    update_artifact(artifact, {"metrics.json": json.dumps(metrics)}, {})
    result = zoo_main("sampling-curve", artifact, "--kind", "steps", "--num-samples", "10", "--into-card",
                      "--data-dir", data_dir, "-o", tmp_path / "s.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the rows of metrics.json (zoo eval, 2026-12-05T00:00:00Z), not drawn again" in result.stdout
    rows = read_metadata(artifact)["sampling_curves"]["steps"]["rows"]
    assert {(r["sampler"], r["steps"], r["fid"]) for r in rows} == {
        ("ddim", 10, 100.0), ("ddim", 20, 101.0), ("ddim", 50, 102.0), ("ddim", 100, 103.0), ("dpmpp", 10, 104.0),
        ("dpmpp", 15, 105.0), ("dpmpp", 20, 106.0)}
    card = (artifact / "README.md").read_text()
    assert "## Sampling" in card and "![guidance.png](guidance.png)" in card and "![sampling_steps.png]" in card
    assert "## Latent space" not in card
    assert "| steps | FID ddim | FID dpmpp |" in card and "| 15 |  |" in card
    result = zoo_main("sampling-curve", "vae-fashion-mnist", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "is not a diffusion model" in result.stderr


def test_a_curve_reuses_zoo_evals_rows_only_when_they_were_drawn_the_same_way():
    rows = [{"name": "guidance_0", "fid": 3.0}, {"name": "ddim_50", "fid": 1.0}, {"name": "guidance_1", "fid": 2.0}]
    report = {"seed": 0, "num_samples": 2000, "created": "x", "rows": rows}
    reused = reusable_report(report, ["guidance_0", "guidance_1"], num_samples=2000, seed=0)
    assert [row["fid"] for row in reused["rows"]] == [3.0, 2.0] and reused["created"] == "x"
    assert reusable_report(report, ["guidance_0", "guidance_2"], num_samples=2000, seed=0) is None  # a row missing
    assert reusable_report(report, ["guidance_0"], num_samples=1000, seed=0) is None  # other samples
    assert reusable_report(report, ["guidance_0"], num_samples=2000, seed=1) is None
    assert reusable_report(None, ["guidance_0"], num_samples=2000, seed=0) is None


def test_zoo_eval_draws_rows_with_the_same_settings_once(run, data_dir):
    report, _ = evaluate_artifact(run[1], write=False, num_samples=10, data_dir=data_dir,
                                  samplers=["guidance_2", "ddim_50", "guidance_0"])  # the recipe's scale is 2
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["ddim_50"]["fid"] == rows["guidance_2"]["fid"] != rows["guidance_0"]["fid"]
    assert "ddim_50 is the same sample set as guidance_2 (the same settings)" in report["notes"]
