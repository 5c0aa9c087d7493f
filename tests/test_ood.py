"""Outlier detection (`zoo ood`, zoo.ood): the detection metrics on known score arrays, each score on known cases with
shipped models and real images, the sets, the background model's perturbed training data, the report and histogram
files, and the command line's errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zoo
from conftest import zoo_main
from zoo.config import DataConfig, load_recipe
from zoo.data.preprocess import augment, perturb
from zoo.errors import EvaluationError
from zoo.eval import ood
from zoo.eval.detection import detection_metrics, fpr_at_tpr
from zoo.images import to_uint8
from zoo.models import families

ROOT = Path(__file__).resolve().parents[1]
FASHION = DataConfig(dataset="fashion_mnist")


@pytest.fixture(scope="module")
def fashion(data_dir):
    """24 Fashion-MNIST test images in [0, 1], 24 of uniform noise, 24 constant ones: the sets of `zoo ood`."""
    sets = ood.image_sets(FASHION, ["uniform", "constant", "inverted", "mnist"], 24, seed=0, data_dir=data_dir)
    return {key: s.images for key, s in sets.items()}


@pytest.fixture(scope="module")
def vae():
    return zoo.load("vae-fashion-mnist")


@pytest.fixture(scope="module")
def ae():
    return zoo.load("ae-fashion-mnist")


# ---------------------------------------------------------------- metrics on known scores


def test_perfect_separation_reversed_and_chance():
    inside, outside = np.arange(10.0), np.arange(10.0) + 100
    perfect = detection_metrics(inside, outside)
    assert perfect["auroc"] == 1.0 and perfect["auprc"] == pytest.approx(1.0) and perfect["fpr_at_95_tpr"] == 0.0
    assert (perfect["n_in"], perfect["n_out"]) == (10, 10)
    reversed_ = detection_metrics(outside, inside)
    assert reversed_["auroc"] == 0.0 and reversed_["fpr_at_95_tpr"] == 1.0
    same = detection_metrics(np.ones(5), np.ones(7))
    assert same["auroc"] == 0.5 and same["fpr_at_95_tpr"] == 1.0
    assert same["auprc"] == pytest.approx(7 / 12)  # ties everywhere: precision is the fraction of positives


def test_a_hand_computed_case():
    inside, outside = [0.0, 1.0, 2.0, 3.0], [1.5, 2.5, 3.5, 4.5]
    # pairs with out > in: 2 + 3 + 4 + 4 of 16
    assert detection_metrics(inside, outside)["auroc"] == pytest.approx(13 / 16)
    # flagging all 4 out needs the threshold 1.5, which flags 2.0 and 3.0 of the in-distribution
    assert fpr_at_tpr(inside, outside) == 0.5
    assert fpr_at_tpr(inside, outside, tpr=0.5) == 0.0  # the threshold 3.5 flags half of out and none of in


def test_scores_that_are_not_numbers_are_refused():
    with pytest.raises(EvaluationError, match="NaN or infinite"):
        detection_metrics([0.0, np.nan], [1.0, 2.0])
    with pytest.raises(EvaluationError, match="non-empty"):
        detection_metrics([], [1.0])


# ---------------------------------------------------------------- the sets


def test_the_sets_are_seeded_and_what_they_say(fashion, data_dir):
    inside = fashion[ood.IN]
    assert inside.shape == (24, 28, 28, 1) and inside.dtype == np.float32
    assert np.allclose(fashion["inverted"], 1.0 - inside)
    constant = fashion["constant"]
    assert np.all(constant == constant[:, :1, :1, :]) and len(np.unique(constant[:, 0, 0, 0])) > 10
    pixels = np.round(fashion["uniform"] * 255)
    assert np.allclose(pixels, fashion["uniform"] * 255, atol=1e-3) and pixels.min() == 0 and pixels.max() == 255
    assert fashion["mnist"].shape == (24, 28, 28, 1)
    again = ood.image_sets(FASHION, ["uniform"], 24, seed=0, data_dir=data_dir)
    assert np.array_equal(again["uniform"].images, fashion["uniform"])
    assert np.array_equal(again[ood.IN].images, inside)
    other = ood.image_sets(FASHION, ["uniform"], 24, seed=1, data_dir=data_dir)
    assert not np.array_equal(other["uniform"].images, fashion["uniform"])


def test_which_scores_apply_comes_from_the_declared_capabilities():
    found = {name: ood.applicable(cls) for name, cls in families().items()}
    assert found["autoencoder"] == ["reconstruction"]
    assert found["vae"] == ["nll", "likelihood-ratio", "complexity", "typicality", "reconstruction"]
    assert found["ddpm"] == ["denoising"]
    assert found["dcgan"] == found["classifier"] == found["cyclegan"] == []


# ---------------------------------------------------------------- scores on known cases


def test_vae_nll_ranks_noise_above_fashion_mnist(vae, fashion):
    inside = ood.nll_bits(vae, fashion[ood.IN], k=2, batch_size=24)
    noise = ood.nll_bits(vae, fashion["uniform"], k=2, batch_size=24)
    assert inside.shape == (24,) and np.all(np.isfinite(inside))
    assert 0.1 < np.mean(inside) < 1.0  # bits/dim of the grey-level cross-entropy (232 nats / 784 / ln 2 = 0.43)
    assert detection_metrics(inside, noise)["auroc"] == 1.0
    assert np.array_equal(inside, ood.nll_bits(vae, fashion[ood.IN], k=2, batch_size=24))  # seeded


def test_autoencoder_reconstruction_error_ranks_noise_above_fashion_mnist(ae, fashion):
    inside = ood.reconstruction_error(ae, fashion[ood.IN], batch_size=10)
    noise = ood.reconstruction_error(ae, fashion["uniform"], batch_size=10)
    assert inside.shape == (24,) and detection_metrics(inside, noise)["auroc"] == 1.0
    assert np.mean(inside) < 0.02 < np.mean(noise)


def test_complexity_bits_are_larger_for_noise_than_for_images_and_constants(fashion):
    bits = {key: ood.compression_bits(to_uint8(fashion[key])) for key in ("uniform", ood.IN, "constant")}
    assert np.all(bits["uniform"] > 8.0)  # incompressible: 8 bits a pixel and the PNG's own bytes
    assert bits["uniform"].min() > bits[ood.IN].max() > bits[ood.IN].min() > bits["constant"].max()
    assert bits["constant"].max() < 1.5
    with pytest.raises(EvaluationError, match="uint8"):
        ood.compression_bits(fashion["uniform"])


def test_typicality_measures_batches_against_the_training_mean():
    nll = np.array([1.0, 1.0, 3.0, 3.0, 2.0, 2.0])
    scores = ood.typicality(nll, 2.0, 3, seed=0)
    assert scores.shape == (2,) and np.all(scores >= 0)
    assert sorted(ood.typicality(nll, 2.0, 1, seed=0).tolist()) == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    assert np.allclose(ood.typicality(np.full(10, 5.0), 2.0, 5), 3.0)
    with pytest.raises(EvaluationError, match="at least 2"):
        ood.typicality(nll, 2.0, 4)


def test_denoising_error_of_a_diffusion_model(fashion):
    recipe = load_recipe(ROOT / "recipes" / "ddpm_fashion_mnist.toml",
                         overrides=["model.widths=[8, 16]", "model.num_res_blocks=1", "model.attention_resolutions=[14]",
                                    "model.norm_groups=4", "model.timesteps=20", "model.sample_steps=5",
                                    "model.generate_steps=5"])
    model = families()["ddpm"].from_recipe(recipe)
    images = fashion[ood.IN][:6] * 2 - 1
    mean, per_step = ood.denoising_error(model, images, timesteps=4, seed=0, batch_size=4)
    assert mean.shape == (6,) and per_step.shape == (6, 4) and np.all(per_step >= 0)
    assert np.allclose(mean, per_step.mean(axis=1))
    assert ood.denoising_timesteps(20, 4) == [2, 7, 12, 17]
    again, _ = ood.denoising_error(model, images, timesteps=4, seed=0, batch_size=6)  # noise per image, not per batch
    assert np.allclose(mean, again, atol=1e-5)
    with pytest.raises(EvaluationError, match="1 to 20"):
        ood.denoising_timesteps(20, 21)


# ---------------------------------------------------------------- the background model


def test_perturbation_replaces_the_asked_fraction_of_pixels_by_grey_levels():
    cfg = DataConfig(perturb_rate=0.2)
    images = np.full((50, 28, 28, 1), 0.5, "float32")
    out = perturb(images, cfg, np.array([3, 4], "int32")).numpy()
    changed = out != 0.5
    assert 0.18 < changed.mean() < 0.22
    assert np.allclose(out[changed] * 255, np.round(out[changed] * 255), atol=1e-3)  # one of the 256 levels
    assert np.array_equal(out, perturb(images, cfg, np.array([3, 4], "int32")).numpy())
    assert not np.array_equal(out, perturb(images, cfg, np.array([3, 5], "int32")).numpy())
    signed = perturb(images * 0, DataConfig(perturb_rate=1.0, value_range=(-1.0, 1.0)), np.array([0, 0], "int32"))
    assert -1.0 <= float(np.min(signed)) < -0.9 and 0.9 < float(np.max(signed)) <= 1.0
    clean = augment(images, DataConfig(), np.array([3, 4], "int32")).numpy()
    assert np.array_equal(clean, images)


def test_training_batches_are_perturbed_and_a_resumed_run_sees_the_same_ones(data_dir):
    from zoo.data import train_stream

    clean_cfg = DataConfig(dataset="fashion_mnist", max_examples=64)
    noisy_cfg = DataConfig(dataset="fashion_mnist", max_examples=64, perturb_rate=0.2)

    def batches(cfg, start_epoch):
        stream, _ = train_stream(cfg, 32, seed=0, start_epoch=start_epoch, epochs=2, data_dir=data_dir)
        return [b.numpy() for b in stream]

    clean, noisy = batches(clean_cfg, 0), batches(noisy_cfg, 0)
    assert len(noisy) == 4
    changed = np.mean([np.mean(c != n) for c, n in zip(clean, noisy)])
    assert 0.15 < changed < 0.21  # a replaced pixel may draw its own grey level
    assert np.array_equal(batches(noisy_cfg, 1), noisy[2:])  # epoch 1 alone, as after --resume


def test_the_background_recipe_is_found_for_the_model_it_serves():
    model = load_recipe(ROOT / "recipes" / "vae_fashion_mnist.toml")
    background = load_recipe(ROOT / "recipes" / "vae_background_fashion_mnist.toml")
    assert background.data.perturb_rate == 0.2
    same = {f: getattr(model.model, f) for f in ("architecture", "latent_dim", "filters", "likelihood")}
    assert same == {f: getattr(background.model, f) for f in same}
    beta = load_recipe(ROOT / "recipes" / "beta_vae_fashion_mnist.toml")
    mnist = load_recipe(ROOT / "recipes" / "vae_fashion_mnist.toml", overrides=["data.perturb_rate=0.1",
                                                                                 'data.dataset="mnist"', 'name="m"'])
    loose = load_recipe(ROOT / "recipes" / "beta_vae_fashion_mnist.toml", overrides=["data.perturb_rate=0.1",
                                                                                      'name="loose"'])
    recipes = {"vae-fashion-mnist": model, "beta-vae-fashion-mnist": beta, "m": mnist, "loose": loose,
               "vae-background-fashion-mnist": background}
    assert ood.background_candidates(model, recipes) == ["vae-background-fashion-mnist", "loose"]
    assert ood.background_candidates(beta, recipes) == ["loose", "vae-background-fashion-mnist"]
    assert ood.background_candidates(mnist, {"vae-fashion-mnist": model}) == []


# ---------------------------------------------------------------- the command and the Python function


def test_zoo_ood_writes_the_report_and_a_readable_histogram(tmp_path, data_dir):
    result = zoo_main("ood", "ae-fashion-mnist", "-n", "20", "--sets", "uniform,mnist", "-o", tmp_path / "r.json",
                      "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "reconstruction" in result.stdout and "uniform AUROC/AUPRC/FPR95" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["model"] == "ae-fashion-mnist" and report["settings"]["n"] == 20
    assert set(report["sets"]) == {"in", "uniform", "mnist"} and report["sets"]["mnist"]["count"] == 20
    row = report["scores"]["reconstruction"]
    assert row["detection"]["uniform"]["auroc"] == 1.0 and row["paper"].startswith("Sakurada")
    with Image.open(tmp_path / "r.png") as picture:
        assert picture.format == "PNG" and picture.width >= 500 and picture.height >= 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.png"]  # no temporary files left


def test_zoo_ood_in_python_returns_the_report_and_writes_nothing_unasked(tmp_path, monkeypatch, data_dir):
    monkeypatch.chdir(tmp_path)
    report = zoo.ood("vae-fashion-mnist", scores=["nll", "complexity", "typicality"], sets="uniform,constant", n=20,
                     k=2, typicality_sizes=(5,), data_dir=data_dir)
    assert list(tmp_path.iterdir()) == []
    assert set(report["scores"]) == {"nll", "complexity", "typicality (M=5)"}
    assert report["scores"]["nll"]["detection"]["uniform"]["auroc"] == 1.0
    assert report["scores"]["complexity"]["detection"]["constant"]["auroc"] == 1.0  # constants compress to nothing
    assert report["scores"]["typicality (M=5)"]["detection"]["uniform"]["n_out"] == 4
    assert report["png_bits_per_dim"]["uniform"]["mean"] > 8.0
    assert report["scores"]["nll"]["unit"] == "bits/dim" and "Nalisnick" in report["scores"]["nll"]["paper"]


def test_reports_are_written_atomically(tmp_path, monkeypatch, data_dir):
    (tmp_path / "r.json").write_text("old report")
    (tmp_path / "r.png").write_bytes(b"old picture")

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half a picture")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        zoo.ood("ae-fashion-mnist", sets="uniform", n=10, output=tmp_path / "r.json", histogram=tmp_path / "r.png",
                data_dir=data_dir)
    assert (tmp_path / "r.png").read_bytes() == b"old picture" and (tmp_path / "r.json").read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.png"]


@pytest.mark.parametrize("args, message", [
    (["ae-fashion-mnist", "--scores", "nll"], "ae-fashion-mnist is a autoencoder, which does not declare `likelihood`"),
    (["vae-fashion-mnist", "--scores", "nlll"], "unknown score 'nlll' (did you mean nll?)"),
    (["vae-fashion-mnist", "--sets", "svhn"], "unknown set 'svhn'; the sets are mnist, fashion_mnist"),
    (["vae-fashion-mnist", "--sets", "fashion_mnist"], "fashion_mnist is vae-fashion-mnist's own dataset"),
    (["ae-fashion-mnist", "-n", "5"], "-n must be between 10 and 10,000"),
    (["ae-fashion-mnist", "-n", "20000"], "-n must be between 10 and 10,000"),
    (["ae-fashion-mnist", "--data-dir", "/no/such/folder"], "--data-dir /no/such/folder is not a folder"),
    (["classifier-mnist"], "classifier-mnist is a classifier, which has none of the out-of-distribution scores"),
    (["vae-fashion-mnist", "--scores", "typicality", "-n", "20", "--typicality-batches", "2,25"], "M <= 10"),
    (["ddpm-fashion-mnist", "--timesteps", "5000"], "--timesteps must be at most"),
    (["ae-fashion-mnist", "--background", "vae-fashion-mnist"], "--background is for the likelihood-ratio score"),
    (["ae-fashion-mnist", "-o", "report.txt"], "name a .json file"),
    (["vae-fashion-mnist", "--scores", "likelihood-ratio", "--background", "ae-fashion-mnist"],
     "has no likelihood to be a background model with"),
])
def test_command_line_errors_are_one_line(args, message, tmp_path):
    result = zoo_main("ood", *args, "-o" if "-o" not in args else "--histogram",
                      tmp_path / ("r.json" if "-o" not in args else "r.png"))
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_data_is_one_line_naming_where_to_put_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = zoo_main("ood", "ae-fashion-mnist", "-n", "10", "--data-dir", empty, "-o", tmp_path / "r.json",
                      env={"ZOO_DATA_DIR": "", "HOME": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "fashion_mnist.npz" in result.stderr and str(empty) in result.stderr
    assert not (tmp_path / "r.json").exists()
