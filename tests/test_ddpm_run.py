"""DDPM through the recipe runner: runs resume exactly, the artifact serves the EMA denoiser in every format
(and needs no XLA), the numpy/onnxruntime reference sampler agrees, and the CLI samples and evaluates."""

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import zoo
from conftest import ROOT, read_h5, resumed_and_straight, tiny_ddpm_recipe, tiny_run, zoo_main
from zoo.artifact.store import load_examples, read_metadata
from zoo.config import load_recipe
from zoo.diffusion import NoiseSchedule, SamplerSettings
from zoo.errors import EvaluationError, RecipeError
from zoo.models import DDPM
from zoo.train import checkpoints


# ---------------------------------------------------------------- runner, export, reference sampler, CLI


TINY_RECIPE = tiny_ddpm_recipe("tiny-ddpm") + tiny_run(steps_per_epoch=4, batch_size=16)


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


def test_the_saved_model_needs_no_xla(run):
    # TF Serving runs XLA:CPU only behind an experimental flag, so no exported function may demand it.
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString((run[1] / "saved_model" / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    attrs = [f.attr for f in graph.library.function] + [n.attr for n in graph.node]
    attrs += [n.attr for f in graph.library.function for n in f.node_def]
    assert len(graph.library.function) > 10
    assert not [a for a in attrs if "_XlaMustCompile" in a and a["_XlaMustCompile"].b]


def test_reference_sampler_reproduces_the_tensorflow_sampler_without_tensorflow(run, tmp_path):
    artifact = run[1]
    model = zoo.load(artifact, verify=False)
    noise = np.random.default_rng(0).standard_normal((3, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    # the TensorFlow sampler's per-step noise (stateless, keyed to (seed, step + 1)), fed to the reference's DDPM
    np.save(tmp_path / "steps.npy", np.stack([tf.random.stateless_normal(noise.shape, seed=[7, i + 1]).numpy()
                                              for i in range(100)]))
    # The reference runs as a standalone file, so not even the zoo package (which imports TensorFlow) is loaded.
    script = f"""
import runpy, sys, numpy as np
module = runpy.run_path({str(ROOT / "zoo" / "diffusion" / "reference.py")!r})
sampler = module["ReferenceSampler"]({str(artifact)!r})
noise = np.load({str(tmp_path / "noise.npy")!r})
np.save({str(tmp_path / "ref8.npy")!r}, sampler.sample(noise, steps=8))
np.save({str(tmp_path / "ref20.npy")!r}, sampler.sample(noise, steps=20, spacing="linspace", clip_x0=False))
np.save({str(tmp_path / "dpmpp6.npy")!r}, sampler.sample(noise, steps=6, sampler="dpmpp_2m"))
np.save({str(tmp_path / "dpmpp12.npy")!r},
        sampler.sample(noise, steps=12, spacing="linspace", clip_x0=False, sampler="dpmpp_2m"))
steps = np.load({str(tmp_path / "steps.npy")!r})
np.save({str(tmp_path / "ddpm.npy")!r}, sampler.sample(noise, sampler="ddpm", step_noise=lambda i, shape: steps[i]))
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
    # DPM-Solver++(2M), carrying the previous x0 through the compiled loop: through sample() and without clipping
    reference_dpmpp6, reference_dpmpp12 = np.load(tmp_path / "dpmpp6.npy"), np.load(tmp_path / "dpmpp12.npy")
    tf_dpmpp6 = model.generate(noise, steps=6, sampler="dpmpp_2m").numpy()
    np.testing.assert_allclose(reference_dpmpp6, tf_dpmpp6, atol=1e-3, rtol=0)
    tf_dpmpp12 = model.sampler_function(SamplerSettings("dpmpp_2m", 12, 0.0, "linspace", clip_x0=False))(noise, 0).numpy()
    np.testing.assert_allclose(reference_dpmpp12, tf_dpmpp12, atol=1e-3, rtol=0)
    ddim6 = model.generate(noise, steps=6, eta=0.0).numpy()
    assert np.abs(reference_dpmpp6 - ddim6).max() > 1e-2  # the second-order steps are there
    tf_ddpm = model.sampler_function(SamplerSettings("ddpm"))(noise, 7).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "ddpm.npy"), tf_ddpm, atol=1e-3, rtol=0)
    generate = tf.saved_model.load(str(artifact / "saved_model")).signatures["generate"]
    np.testing.assert_allclose(generate(noise=noise)["images"].numpy(), reference8, atol=1e-3, rtol=0)


def test_zoo_sample_takes_a_sampler_steps_and_eta(run, tmp_path):
    artifact = run[1]
    result = zoo_main("sample", artifact, "--sampler", "ddim", "--steps", "5", "--eta", "0.5", "-n", "4",
                      "-o", tmp_path / "s.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sampler ddim, steps 5, eta 0.5" in result.stdout and (tmp_path / "s.png").stat().st_size > 0
    result = zoo_main("sample", artifact, "--sampler", "ddpm", "--steps", "5", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "zoo: error: the ddpm sampler runs all T = 100 steps" in result.stderr
    result = zoo_main("sample", artifact, "--sampler", "dpmpp_2m", "--steps", "4", "-n", "2", "-o", tmp_path / "d.png")
    assert result.returncode == 0 and "sampler dpmpp_2m, steps 4" in result.stdout, result.stderr[-2000:]
    result = zoo_main("sample", artifact, "--sampler", "dpmpp_2m", "--eta", "0.5", "-o", tmp_path / "bad.png")
    assert result.returncode == 1 and "zoo: error: eta = 0.5 means nothing to dpmpp_2m" in result.stderr


# ---------------------------------------------------------------- recipes


def test_shipped_recipes_and_their_mistakes():
    shipped = load_recipe(ROOT / "recipes" / "ddpm_fashion_mnist.toml")
    wide = load_recipe(ROOT / "recipes" / "ddpm_cosine_v_fashion_mnist.toml")
    # the shipped recipe: cosine / v / min-SNR-5, the best of four settings at equal training time
    assert (shipped.model.schedule, shipped.model.prediction_type, shipped.model.min_snr_gamma) == ("cosine", "v", 5.0)
    assert (wide.model.schedule, wide.model.prediction_type) == ("cosine", "v")
    assert shipped.model.timesteps == 1000 and shipped.model.ema_decay == 0.999
    model = DDPM.from_recipe(shipped)
    assert model.network.output_shape == (None, 28, 28, 1)
    path = ROOT / "recipes" / "ddpm_fashion_mnist.toml"
    for override, message in (("data.value_range=[0.0, 1.0]", r"data.value_range = \[-1.0, 1.0\]"),
                              ("model.attention_resolutions=[8]", r"\[8\].*they are \[28, 14, 7\]"),
                              ("model.sample_steps=2000", "exceeds timesteps = 1000"),
                              ("model.prediction_type='x0'", "Accepted values: 'epsilon', 'v'")):
        with pytest.raises(RecipeError, match=message):
            load_recipe(path, overrides=[override])


def test_zoo_eval_scores_each_sampler_against_the_floor(run, data_dir, monkeypatch):
    """FID against sampling steps (DDIM 10/20/50/100, DPM-Solver++(2M) 10/15/20, DDPM all T) with Fashion-MNIST
    classifier features; the slow DDPM row uses at most DDPM_EVAL_SAMPLES samples and gets a floor at its own count."""
    from zoo.eval.evaluate import evaluate
    from zoo.models import ddpm

    monkeypatch.setattr(ddpm, "DDPM_EVAL_SAMPLES", 8)
    _, export_dir = run
    report = evaluate(zoo.load(export_dir), load_recipe(export_dir / "recipe.toml"), num_samples=16, data_dir=data_dir,
                      kid_subsets=5)
    names = [row["name"] for row in report["rows"]]
    assert names[:8] == ["ddim_10", "ddim_20", "ddim_50", "ddim_100", "dpmpp_10", "dpmpp_15", "dpmpp_20", "ddpm_100"]
    assert names[8].startswith("real floor") and names[9] == "real floor (train vs test, n = 8)" and len(names) == 10
    assert [row["count"] for row in report["rows"]] == [16] * 7 + [8, 16, 8]
    assert report["headline"]["fid_floor_ddpm_100"] == report["rows"][9]["fid"] and "8 samples" in report["notes"][-1]
    assert "fid_dpmpp_15" in report["headline"]
    assert report["features"]["network"] == "classifier-fashion-mnist"
    untrained, floor = report["rows"][0]["fid"], report["rows"][8]["fid"]
    assert np.isfinite(untrained) and untrained > floor  # a two-epoch model is far from the data
    chosen = evaluate(zoo.load(export_dir), load_recipe(export_dir / "recipe.toml"), num_samples=16, data_dir=data_dir,
                      kid_subsets=5, samplers=["ddim_10"])  # one row: what a quick comparison of runs needs
    assert [row["name"] for row in chosen["rows"]][:2] == ["ddim_10", "real floor (train vs test)"]
    assert chosen["rows"][0]["fid"] == report["rows"][0]["fid"]  # the same seeded samples
    with pytest.raises(EvaluationError, match="--samplers ddim_7: ddpm has the rows ddim_10, ddim_20"):
        evaluate(zoo.load(export_dir), load_recipe(export_dir / "recipe.toml"), num_samples=16, data_dir=data_dir,
                 samplers=["ddim_7"])
