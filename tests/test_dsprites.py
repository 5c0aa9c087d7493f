"""dSprites by name from tensorflow-datasets (on a small stand-in with its features, prepared here without network),
its ground-truth factors, and the supervised disentanglement metrics: MIG and the beta-VAE metric."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, zoo_main
from zoo import catalogue, data
from zoo.artifact.store import read_metadata, update_artifact, verify_checksums
from zoo.config import DataConfig, load_recipe
from zoo.data import sources
from zoo.errors import DataError
from zoo.eval.disentanglement import beta_vae_metric, mutual_information_gap

RECIPE = ROOT / "recipes" / "beta_vae_dsprites.toml"
FACTORS = {"shape": 3, "scale": 6, "orientation": 40, "x_position": 32, "y_position": 32}  # dSprites' classes
STAND_IN = 160


def draw(factors) -> np.ndarray:
    """A 64x64 binary sprite from its factors (shape, scale, orientation, x, y): a square of the scale's size at the
    position, crossed by a bar of the orientation's length (enough for the images to follow their factors)."""
    shape, scale, orientation, x, y = (int(v) for v in factors)
    image = np.zeros((64, 64, 1), np.uint8)
    half, top, left = 3 + scale + shape, 10 + y, 10 + x
    image[top - half:top + half, left - half:left + half] = 1
    image[2, :orientation + 1] = 1
    return image


@pytest.fixture(scope="module")
def dsprites_dir(tmp_path_factory):
    """A prepared tensorflow-datasets 'dsprites' 2.0.0 of STAND_IN examples with the real builder's features (0/1
    pixels, five ClassLabels, five float values), in a data dir: what tfds would have prepared after the download."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    folder = tmp_path_factory.mktemp("tfds")
    features = tfds.builder("dsprites", data_dir=str(folder)).info.features  # the registered builder's, unprepared
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, count, STAND_IN) for count in FACTORS.values()], 1)
    examples = {"image": np.stack([draw(f) for f in factors])}
    for k, name in enumerate(FACTORS):
        examples[f"label_{name}"] = factors[:, k]
        examples[f"value_{name}"] = (factors[:, k] / max(FACTORS[name] - 1, 1)).astype("float32")
    builder = tfds.dataset_builders.TfDataBuilder(
        name="dsprites", version="2.0.0", data_dir=str(folder), features=features,
        split_datasets={"train": tf.data.Dataset.from_tensor_slices(examples)})
    builder.download_and_prepare()
    return folder


def test_the_dsprites_recipe_loads_images_in_0_1_and_factors_named_as_the_catalogue(dsprites_dir):
    cfg = load_recipe(RECIPE).data
    source = data.load_split(cfg, cfg.split, dsprites_dir)
    assert source.description == f"tfds:dsprites [train], {STAND_IN} images" and source.num_classes == 3
    batches, steps = data.train_stream(cfg, 32, seed=0, start_epoch=0, epochs=1, data_dir=dsprites_dir)
    assert steps == STAND_IN // 32
    batch = next(iter(batches)).numpy()
    assert batch.shape == (32, 64, 64, 1) and set(np.unique(batch)) == {0.0, 1.0}  # 0/1 pixels scaled to 0/255 first

    images, factors, names, description = data.factor_images(cfg, cfg.eval_split, 100, data_dir=dsprites_dir)
    assert names == catalogue.dataset("dsprites").factors == tuple(FACTORS)
    assert images.shape == (100, 64, 64, 1) and images.dtype == np.float32 and set(np.unique(images)) == {0.0, 1.0}
    assert factors.shape == (100, 5) and factors.dtype == np.int32 and description.startswith("tfds:dsprites [train]")
    assert (factors >= 0).all() and (factors < np.array(list(FACTORS.values()))).all()
    for image, f in zip(images, factors):  # each image came with its own factors
        assert np.array_equal(image, draw(f).astype("float32"))


def test_without_a_prepared_copy_it_downloads_when_online_and_fails_at_once_offline(dsprites_dir, tmp_path,
                                                                                     monkeypatch):
    """A user with internet: no copy in the data dirs or tfds' dir, the network check passes, tfds downloads and
    prepares. Only the network is replaced here: the check answers yes, and the download puts the stand-in where tfds
    keeps the data it prepares, and reads its info as a real preparation leaves it."""
    import tensorflow_datasets as tfds

    # tfds' own dir: read from $TFDS_DATA_DIR when tfds is imported, so set where tfds keeps it too
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.zoo/data
    cfg = DataConfig(dataset="dsprites", split="train", eval_split="train", image_size=(64, 64))
    with pytest.raises(DataError, match="dataset 'dsprites' not found locally and no network .ZOO_OFFLINE is set"):
        data.load_split(cfg, "train", tmp_path / "empty")

    downloads = []

    def download_and_prepare(self, *args, **kwargs):
        downloads.append(self.name)
        assert Path(self.data_dir).is_relative_to(tmp_path), self.data_dir  # never beside a user's real data
        shutil.copytree(dsprites_dir / "dsprites" / "2.0.0", self.data_dir, dirs_exist_ok=True)
        self.info.read_from_directory(self.data_dir)

    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setattr(sources, "_network_available", lambda: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    images, factors, names, _ = data.factor_images(cfg, "train", 20, data_dir=tmp_path / "empty")
    assert downloads == ["dsprites"] and (tmp_path / "tfds" / "dsprites" / "2.0.0").is_dir()
    assert images.max() == 1.0 and factors.shape == (20, 5) and names == tuple(FACTORS)
    assert data.load_split(cfg, "train", tmp_path / "empty").size == STAND_IN and downloads == ["dsprites"]  # prepared


def test_data_without_factors_says_so(data_dir):
    with pytest.raises(DataError, match="fashion_mnist.npz has no ground-truth factors.*such as dsprites"):
        data.factor_images(DataConfig(dataset="fashion_mnist"), "test", 10, data_dir=data_dir)


# ---------------------------------------------------------------- the metrics on synthetic codes


def _factors(n=4000, counts=(3, 6, 10, 8, 8), seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, c, n) for c in counts], 1).astype("int32")


def test_mig_is_near_1_for_a_code_that_copies_each_factor_and_near_0_for_mixed_or_noise():
    factors = _factors()
    rng = np.random.default_rng(1)
    copied = np.concatenate([factors * [1.0, 0.3, 2.0, 1.0, 0.5] + 0.01 * rng.standard_normal(factors.shape),
                             rng.standard_normal((len(factors), 3))], 1)  # plus three dimensions of noise
    result = mutual_information_gap(copied, factors, tuple(FACTORS))
    assert result["mig"] > 0.95 and set(result["per_factor"]) == set(FACTORS)
    assert result["best_dimension"] == {name: k for k, name in enumerate(FACTORS)}
    pair = _factors(counts=(8, 8))
    mixed = np.stack([pair[:, 0] + pair[:, 1], pair[:, 0] - pair[:, 1]], 1).astype(float)  # each factor in both
    assert mutual_information_gap(mixed, pair)["mig"] < 0.05
    assert mutual_information_gap(rng.standard_normal((len(factors), 8)), factors)["mig"] < 0.03
    constant = factors.copy()
    constant[:, 0] = 2
    assert "shape" not in mutual_information_gap(copied, constant, tuple(FACTORS))["per_factor"]  # entropy 0: left out


def test_beta_vae_metric_is_near_1_for_a_disentangled_encoder_and_near_chance_for_a_random_one():
    factors = _factors()
    rng = np.random.default_rng(2)
    images = factors.astype("float32")  # the "images" here are the factors; the encoders below read them

    def disentangled(x):
        return np.concatenate([x * [1.0, 0.3, 2.0, 1.0, 0.5] + 0.05 * rng.standard_normal(x.shape),
                               rng.standard_normal((len(x), 3))], 1)

    result = beta_vae_metric(disentangled, images, factors, tuple(FACTORS), train_points=2000, eval_points=1000)
    assert result["accuracy"] > 0.95 and result["chance"] == 0.2 and result["factors"] == list(FACTORS)
    noise = beta_vae_metric(lambda x: rng.standard_normal((len(x), 8)), images, factors, train_points=2000,
                            eval_points=1000)
    assert abs(noise["accuracy"] - 0.2) < 0.05
    with pytest.raises(ValueError, match="at least two factors that vary"):
        beta_vae_metric(disentangled, images, np.zeros_like(factors), train_points=10, eval_points=10)


# ---------------------------------------------------------------- zoo disentanglement


def test_zoo_disentanglement_says_why_the_supervised_metrics_are_skipped(data_dir):
    result = zoo_main("disentanglement", "beta-vae-fashion-mnist", "-n", "200", "--no-write", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "total correlation" in lines[0]
    assert lines[1] == ("MIG and the beta-VAE metric skipped: fashion_mnist has no ground-truth factors of variation "
                        "(they apply to data with factors: dsprites)")


def test_a_vae_trained_on_the_dsprites_recipe_gets_mig_and_the_beta_vae_metric(dsprites_dir, tmp_path):
    from zoo.train import train

    recipe = load_recipe(RECIPE, overrides=["train.epochs=1", "train.steps_per_epoch=3", "train.batch_size=16",
                                            "train.validation_steps=1", "model.filters=[8, 8, 8, 8]",
                                            "export.formats=['keras']", "export.variants=[]", "export.num_examples=4"])
    train(recipe, tmp_path / "run", data_dir=dsprites_dir, verbose=0)
    result = zoo_main("disentanglement", tmp_path / "run" / "export", "-n", "150", "--no-write",
                      "--data-dir", dsprites_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "total correlation" in lines[0] and "150 images of tfds:dsprites [train]" in lines[0]
    assert lines[1].startswith("MIG ") and "(20 bins), beta-VAE metric " in lines[1]
    assert lines[1].endswith("(chance 0.20), on tfds:dsprites [train], 150 images; factors shape, scale, orientation, "
                             "x_position, y_position")
    # Recorded into a report that `zoo eval` wrote (here another VAE's, for its shape: zoo eval itself needs a
    # feature network, which the zoo has none of for dSprites), beside the total correlation.
    export = tmp_path / "run" / "export"
    report = {**json.loads((ROOT / "exported" / "beta-vae-fashion-mnist" / "metrics.json").read_text()),
              "model": "beta-vae-dsprites"}
    update_artifact(export, {"metrics.json": json.dumps(report)}, {})
    result = zoo_main("disentanglement", export, "-n", "150", "--data-dir", dsprites_dir)
    assert result.returncode == 0, result.stderr
    latent = json.loads((export / "metrics.json").read_text())["latent"]
    assert 0 <= latent["mig"] <= 1 and latent["beta_vae_metric"] == latent["supervised"]["beta_vae"]["accuracy"]
    assert latent["supervised"]["mig"]["num_images"] == 150 and set(latent["supervised"]["mig"]["per_factor"]) == set(FACTORS)
    assert {"total_correlation_nats", "mig", "beta_vae_metric"} <= set(read_metadata(export)["metrics"])
    verify_checksums(export)
    np.savez(tmp_path / "dsprites.npz", x_train=np.zeros((30, 64, 64), np.uint8), x_test=np.zeros((30, 64, 64), np.uint8))
    result = zoo_main("disentanglement", tmp_path / "run" / "export", "-n", "30", "--no-write", "--data-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[1].startswith(
        f"MIG and the beta-VAE metric skipped: the dSprites factors are not available ({tmp_path / 'dsprites.npz'} "
        "has no ground-truth factors")
