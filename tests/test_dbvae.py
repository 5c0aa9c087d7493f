"""DB-VAE (Amini et al. 2019): the re-sampling weights, the biased Fashion-MNIST task, the hand-over of each epoch's draws
to the input pipeline, a tiny run (training, exact resume, export, load), zoo eval's subgroups and zoo debias-report."""

import dataclasses
import json
import tomllib

import keras
import numpy as np
import pytest

from conftest import ROOT, read_h5, resumed_and_straight, tiny_run, zoo_main
from zoo import data
from zoo.artifact.store import read_metadata
from zoo.config import DataConfig, load_recipe, recipe_from_dict
from zoo.errors import DataError, RecipeError
from zoo.eval import debias
from zoo.models.dbvae import DBVAE, inverse_density_weights
from zoo.train import checkpoints, restore

TASK = DataConfig(dataset="fashion_mnist", labels=True, positive_classes=(0, 2, 4, 6), rare_class=4, rare_keep=0.02)

TINY_RECIPE = """
name = "tiny-dbvae"
[model]
family = "dbvae"
latent_dim = 4
filters = [8, 16]
debias = true
debias_combine = "max"
[data]
dataset = "fashion_mnist"
labels = true
positive_classes = [0, 2, 4, 6]
rare_class = 4
rare_keep = 0.02
max_examples = 400
[optimizer]
learning_rate = 2e-3
""" + tiny_run(steps_per_epoch=3, batch_size=32, validation_steps=2) + 'formats = ["keras"]\nvariants = []\n'


# ---------------------------------------------------------------- the weights


def test_weights_follow_a_known_histogram():
    # One dimension, two bins: nine examples in the first, one in the second (shares 0.9 and 0.1).
    means = np.array([[0.0]] * 9 + [[1.0]])
    w = inverse_density_weights(means, bins=2, alpha=0.0)
    np.testing.assert_allclose(w, [1 / 18] * 9 + [1 / 2])  # 1/0.1 = 10 against 9 x 1/0.9: the rare one has half the mass
    alpha = 0.05
    expected = np.array([1 / (0.9 + alpha)] * 9 + [1 / (0.1 + alpha)])
    np.testing.assert_allclose(inverse_density_weights(means, 2, alpha), expected / expected.sum())
    # Two dimensions multiply; a dimension of equal values weighs every example alike.
    means = np.array([[0, 0, 7], [0, 1, 7], [0, 1, 7], [1, 1, 7]], "float64")
    first, second = np.array([3, 3, 3, 1]) / 4, np.array([1, 3, 3, 3]) / 4  # the share of each example's bin, per dim
    product = 1 / ((first + alpha) * (second + alpha))
    np.testing.assert_allclose(inverse_density_weights(means, 2, alpha), product / product.sum())
    # "max": the largest of each dimension's normalized inverse shares (the constant dimension's are all 1/4).
    first, second = 1 / (first + alpha), 1 / (second + alpha)
    largest = np.maximum(np.maximum(first / first.sum(), second / second.sum()), 1 / 4)
    np.testing.assert_allclose(inverse_density_weights(means, 2, alpha, "max"), largest / largest.sum())
    with pytest.raises(ValueError, match="combine"):
        inverse_density_weights(means, 2, alpha, "sum")


def test_draws_favour_the_rare_examples_and_depend_on_seed_and_epoch_only():
    rng = np.random.default_rng(0)
    means = np.concatenate([rng.normal(0, 1, (990, 2)), rng.normal(6, 0.1, (10, 2))])  # 10 examples far out
    p = inverse_density_weights(means, 10, 0.001)
    order = data.epoch_order(p, 20_000, seed=3, epoch=5)
    drawn = np.bincount(order, minlength=len(p)) / len(order)
    assert drawn[990:].sum() > 10 * 10 / 1000  # drawn over ten times as often as their share of the data
    assert abs(drawn[990:].sum() - p[990:].sum()) < 0.02
    np.testing.assert_array_equal(order, data.epoch_order(p, 20_000, seed=3, epoch=5))
    assert not np.array_equal(order, data.epoch_order(p, 20_000, seed=3, epoch=6))
    uniform = data.epoch_order(np.ones(1000), 20_000, seed=3, epoch=5)
    assert np.mean(uniform >= 990) < 0.02


def test_the_pipeline_draws_each_epoch_as_handed_over(data_dir):
    cfg = DataConfig(dataset="fashion_mnist", labels=True, max_examples=64)
    labels = data.load_split(cfg, "train", data_dir).labels
    orders = data.EpochOrders()
    stream, steps = data.train_stream(cfg, 8, seed=0, start_epoch=0, epochs=2, steps_per_epoch=2, data_dir=data_dir,
                                      orders=orders)
    batches = iter(stream)
    for epoch in range(2):
        order = data.epoch_order(np.arange(64) + 1.0, steps * 8, seed=0, epoch=epoch)
        orders.put(order)  # what Resample does at the start of the epoch
        got = np.concatenate([next(batches)[1].numpy() for _ in range(steps)])
        np.testing.assert_array_equal(got, labels[order])
    with pytest.raises(StopIteration):
        next(batches)


# ---------------------------------------------------------------- the biased task


def test_biased_split_keeps_two_percent_of_coats_in_train_and_all_in_test(data_dir):
    train = data.load_split(TASK, "train", data_dir)
    original = debias.original_labels(TASK, "train", data_dir)
    assert np.sum(original == 4) == 120 and np.sum(original == 0) == 6000  # 2% of 6,000 coats; other classes whole
    np.testing.assert_array_equal(train.labels, np.isin(original, [0, 2, 4, 6]).astype("int32"))
    assert train.num_classes == 2 and "class 4 kept at 2%" in train.description
    def split(seed):
        return data.load_split(dataclasses.replace(TASK, positive_classes=(), rare_seed=seed), "train", data_dir)

    first, again, other = split(0), split(0), split(1)
    np.testing.assert_array_equal(first.images, again.images)  # the same seed keeps the same coats
    assert np.sum(other.labels == 4) == 120
    assert not np.array_equal(first.images[first.labels == 4], other.images[other.labels == 4])
    test = debias.original_labels(TASK, "test", data_dir)
    assert np.sum(test == 4) == 1000 and len(test) == 10_000
    groups = debias.groups(TASK, test)
    assert list(groups) == ["T-shirt/top", "Pullover", "Coat", "Shirt", "negatives"]
    assert groups["negatives"].sum() == 6000


def test_group_figures_find_the_rare_and_the_worst_group():
    labels = np.array([0, 0, 4, 4, 1, 1, 1, 1])
    correct = np.array([1, 1, 0, 1, 1, 1, 1, 0], bool)
    figures = debias.group_figures(correct, labels, dataclasses.replace(TASK, positive_classes=(0, 4)))
    assert figures["group_accuracy"] == {"T-shirt/top": 1.0, "Coat": 0.5, "negatives": 0.75}
    assert figures["rare_group"] == "Coat" and figures["rare_accuracy"] == 0.5
    assert figures["worst_group"] == "Coat" and figures["overall_accuracy"] == 0.75
    summary = debias.summarize([figures, {**figures, "rare_accuracy": 1.0}])
    assert summary["rare_accuracy"]["mean"] == 0.75 and summary["rare_accuracy"]["std"] == pytest.approx(0.5 / 2 ** 0.5)


@pytest.mark.parametrize("change,message", [
    ({"data": {"rare_class": -1}}, "rare_keep = 0.005 needs rare_class"),
    ({"data": {"positive_classes": [0, 2, 2]}}, "names a label twice"),
    ({"data": {"classes": [0, 1, 2], "positive_classes": [0, 4]}}, "must be among classes"),
    ({"data": {"rare_keep": 1.5}}, "above its maximum 1.0"),
    ({"data": {"positive_classes": []}}, "set data.labels = true and data.positive_classes"),
    ({"data": {"labels": False}}, "set data.labels = true and data.positive_classes"),
    ({"model": {"debias_combine": "maxx"}}, "did you mean 'max'"),
    ({"model": {"debias_bins": 1}}, "below its minimum 2"),
    ({"model": {"debias_alpha": -0.1}}, "below its minimum 0.0"),
])
def test_bad_recipe_values_are_refused_with_the_fix(change, message):
    raw = tomllib.loads((ROOT / "recipes" / "dbvae_fashion_mnist.toml").read_text())
    for section, values in change.items():
        raw[section].update(values)
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw, source="dbvae.toml")


def test_data_without_the_named_classes_is_refused(data_dir):
    with pytest.raises(DataError, match=r"class\(es\) \[12\].*fix them"):
        data.load_split(dataclasses.replace(TASK, rare_class=12), "train", data_dir)
    with pytest.raises(DataError, match="cover every label"):
        data.load_split(dataclasses.replace(TASK, positive_classes=tuple(range(10))), "test", data_dir)


def test_the_shipped_recipes_load():
    recipe = load_recipe(ROOT / "recipes" / "dbvae_fashion_mnist.toml")
    assert recipe.family == "dbvae" and DBVAE.resamples(recipe)
    plain = load_recipe(ROOT / "recipes" / "dbvae_fashion_mnist.toml", overrides=["model.debias=false"])
    assert not DBVAE.resamples(plain)


# ---------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    """One epoch, a resume to the second with export; and a straight two-epoch run. 400 real images a split."""
    folder = tmp_path_factory.mktemp("dbvae")
    _, result = resumed_and_straight(folder, TINY_RECIPE, data_dir)
    return folder, result.export_dir


def test_training_has_finite_losses_and_resumes_exactly(run):
    folder, _ = run
    history = [line.split(",") for line in (folder / "resumed" / "history.csv").read_text().splitlines()]
    assert history[0][1:] == ["accuracy", "classification", "kl", "loss", "reconstruction", "resample_ess", "val_accuracy",
                              "val_classification", "val_kl", "val_loss", "val_reconstruction"]
    values = np.array([[float(v) for v in row[1:]] for row in history[1:]])
    assert values.shape == (2, 11) and np.all(np.isfinite(values))
    assert np.all(values[:, 5] < 1.0)  # the epochs were drawn with weights, not uniformly
    resumed, straight = (read_h5(checkpoints(folder / name)[-1] / "model.weights.h5") for name in ("resumed", "straight"))
    assert resumed.keys() == straight.keys()
    for key in resumed:  # the same draws, so the same weights
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def test_the_trained_model_draws_its_rare_positives_more_often(run, data_dir):
    folder, _ = run
    model, recipe, _ = restore(folder / "resumed")
    images, labels, _ = data.labelled_images(recipe.data, recipe.data.split, 10**9, data_dir=data_dir)
    p = model.sampling_probabilities(images, labels)
    positive = labels == 1
    assert p.sum() == pytest.approx(1.0) and np.allclose(p[~positive], 1 / len(p))
    assert p[positive].sum() == pytest.approx(positive.mean())
    favoured = np.argsort(-np.where(positive, p, 0))[:10]
    drawn = np.bincount(data.epoch_order(p, 50_000, seed=0, epoch=2), minlength=len(p)) / 50_000
    assert drawn[favoured].sum() > 2 * 10 / len(p)  # over twice their share under a uniform draw


def test_the_export_loads_classifies_and_reconstructs(run, data_dir):
    _, artifact = run
    meta = read_metadata(artifact)
    assert meta["family"] == "dbvae" and meta["capabilities"] == ["classify", "encode", "reconstruct"]
    assert [e["name"] for e in meta["endpoints"]] == ["classify", "encode", "reconstruct"]
    assert "class 4 kept at 2%" in meta["dataset"]["train"]
    model = keras.models.load_model(artifact / "model.keras")
    assert isinstance(model, DBVAE) and model.debias_combine == "max" and int(model.optimizer.iterations) == 6
    images = np.load(artifact / "examples.npz")["images"]
    original, _, _ = restore(artifact.parent)
    np.testing.assert_allclose(model.predict_proba(images), original.predict_proba(images), atol=1e-6)
    p = model.predict_proba(images).numpy()
    assert p.shape == (len(images), 2) and np.allclose(p.sum(axis=1), 1.0)
    assert model.reconstruct(images).shape == images.shape and model.encode(images).mean.shape == (len(images), 4)


def test_eval_and_debias_report(run, data_dir, tmp_path):
    _, artifact = run
    result = zoo_main("eval", artifact, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads((artifact / "metrics.json").read_text())
    assert report["kind"] == "classification" and set(report["groups"]) == {"T-shirt/top", "Pullover", "Coat", "Shirt",
                                                                            "negatives"}
    assert report["headline"]["worst_group_accuracy"] == min(report["groups"].values())
    assert "worst-group accuracy" in (artifact / "README.md").read_text()

    comparison = {"benchmark": "debias", "recipe": "recipes/dbvae_fashion_mnist.toml", "epochs": 1, "seeds": [0, 1],
                  "limit": 400, "created": "2026-12-05T00:00:00Z", "rare_group": "Coat", "arms": {}}
    for arm, rare in (("plain", (0.5, 0.7)), ("dbvae", (0.8, 0.9))):
        runs = [{"overall_accuracy": 0.9, "rare_accuracy": r, "worst_group_accuracy": r} for r in rare]
        comparison["arms"][arm] = {"debias": arm == "dbvae", "runs": runs, "summary": debias.summarize(runs)}
    (tmp_path / "results.json").write_text(json.dumps(comparison))
    result = zoo_main("debias-report", artifact, "--from", tmp_path / "results.json", "--into-card", "-k", "4",
                      "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "dbvae  true    2      90.00 ± 0.00  85.00 ± 7.07" in result.stdout
    assert "added resampling.png" in result.stdout
    meta = read_metadata(artifact)
    assert meta["debias"]["arms"]["plain"]["summary"]["rare_accuracy"]["mean"] == pytest.approx(0.6)
    assert "resampling.png" in meta["figures"] and "resampling.png" in meta["files"]
    card = (artifact / "README.md").read_text()
    assert "## Debiasing" in card and "| dbvae | true | 2 | 90.00 ± 0.00 | 85.00 ± 7.07 |" in card
    assert "![resampling.png](resampling.png)" in card
    again = zoo_main("debias-report", artifact)  # now from the artifact itself
    assert again.returncode == 0 and "plain  false   2" in again.stdout and "by group:" in again.stdout
    assert zoo_main("info", artifact, "--verify").returncode == 0

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"arms": {}}))
    result = zoo_main("debias-report", artifact, "--from", bad)
    assert result.returncode == 1 and "not a result of benchmarks/debias.py" in result.stderr
