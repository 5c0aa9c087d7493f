"""Evaluation: the metrics are right on cases with known answers, the shipped feature classifiers are accurate
and verified on load, and `zoo eval` writes its report into (a copy of) a shipped artifact."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import zoo
from conftest import run_zoo, zoo_main
from zoo.eval import metrics as M
from zoo.eval.features import default_features, feature_network
from zoo.progress import progress_line
from zoo.artifact.store import read_metadata, verify_checksums
from zoo.config import DataConfig, load_recipe, recipe_from_dict
from zoo.data import example_batch
from zoo.errors import ArtifactError, EvaluationError, RecipeError
from zoo.eval.evaluate import Evaluator, evaluate
from zoo.models import get_family

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
RECIPES = Path(__file__).resolve().parents[1] / "recipes"
CLASSIFIERS = [("classifier-fashion-mnist", "fashion_mnist", 0.90), ("classifier-mnist", "mnist", 0.97)]


def gaussian(rng, n, mean, covariance):
    return rng.multivariate_normal(mean, covariance, size=n)


def random_covariance(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# ---------------------------------------------------------------- Frechet distance


def test_frechet_distance_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    x = gaussian(rng, 3000, rng.standard_normal(32), random_covariance(rng, 32))
    assert M.frechet_distance(x, x) < 1e-8
    few = rng.standard_normal((40, 128))  # fewer images than dimensions: a singular covariance
    assert 0.0 <= M.frechet_distance(few, few) < 1e-8
    assert M.frechet_distance(x, x + 1.0) == pytest.approx(32.0, rel=1e-9)  # a shift adds only ||mu_1 - mu_2||^2


def test_frechet_distance_between_gaussians_is_the_closed_form():
    rng = np.random.default_rng(1)
    d = 6
    mu_1, mu_2 = rng.standard_normal(d), rng.standard_normal(d)
    sigma_1, sigma_2 = random_covariance(rng, d), random_covariance(rng, d)  # they do not commute
    # The closed form through the (real, non-negative) eigenvalues of sigma_1 sigma_2, computed another way.
    eigenvalues = np.linalg.eigvals(sigma_1 @ sigma_2).real
    expected = np.sum((mu_1 - mu_2) ** 2) + np.trace(sigma_1) + np.trace(sigma_2) - 2 * np.sum(np.sqrt(eigenvalues))
    exact = M.frechet_distance(M.GaussianStats(mu_1, sigma_1, 0), M.GaussianStats(mu_2, sigma_2, 0))
    assert exact == pytest.approx(expected, rel=1e-9)
    # Estimated from samples, it converges to the closed form (its bias shrinks as 1/n).
    estimate = M.frechet_distance(gaussian(rng, 100_000, mu_1, sigma_1), gaussian(rng, 100_000, mu_2, sigma_2))
    assert estimate == pytest.approx(expected, rel=0.02)
    # Commuting (diagonal) covariances: sum of (sqrt(s_1) - sqrt(s_2))^2, exact even for singular ones.
    s_1, s_2 = np.array([1.0, 0.0, 9.0]), np.array([0.0, 4.0, 1.0])
    stats = [M.GaussianStats(np.zeros(3), np.diag(s), 0) for s in (s_1, s_2)]
    assert M.frechet_distance(*stats) == pytest.approx(np.sum((np.sqrt(s_1) - np.sqrt(s_2)) ** 2), abs=1e-12)


def test_metrics_reject_bad_features_with_a_clear_error():
    with pytest.raises(EvaluationError, match="same feature network"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(EvaluationError, match="NaN"):
        M.kernel_distance(np.full((8, 2), np.nan), np.zeros((8, 2)))
    with pytest.raises(EvaluationError, match="at least 2"):
        M.precision_recall(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(EvaluationError, match="sum to 1"):
        M.classifier_score(np.full((4, 3), 0.5))


# ---------------------------------------------------------------- KID


def test_kid_is_zero_within_its_std_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(2)
    d = 32
    covariance = random_covariance(rng, d)
    real, fake = (gaussian(rng, 4000, np.zeros(d), covariance) for _ in range(2))
    same, same_std = M.kernel_distance(real, fake, subsets=30)
    assert abs(same) < same_std, (same, same_std)
    shifted, shifted_std = M.kernel_distance(real, fake + 0.3, subsets=30)
    assert shifted > 0 and shifted > 5 * shifted_std, (shifted, shifted_std)
    bigger, _ = M.kernel_distance(real, fake + 0.6, subsets=30)
    assert bigger > shifted


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel():
    x, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 0.0]])
    k = lambda a, b: (a @ b / 2 + 1) ** 3  # noqa: E731
    expected = 2 * k(x[0], x[1]) / 2 + 2 * k(y[0], y[1]) / 2 - 2 * np.mean([k(a, b) for a in x for b in y])
    assert M._unbiased_mmd2(x, y) == pytest.approx(expected)


# ---------------------------------------------------------------- precision and recall


def test_precision_and_recall_are_one_for_identical_sets_and_recall_drops_for_a_collapsed_generator():
    rng = np.random.default_rng(3)
    real = rng.standard_normal((800, 16))
    assert M.precision_recall(real, real) == (1.0, 1.0)
    precision, recall = M.precision_recall(real, rng.standard_normal((800, 16)))
    assert precision > 0.5 and recall > 0.5
    # One real image, repeated: faithful (precision 1) but it covers nothing of the real manifold.
    precision, recall = M.precision_recall(real, np.repeat(real[:1], 800, axis=0))
    assert precision == 1.0 and recall <= 2 / 800
    # One image far from the data, repeated: neither faithful nor covering.
    assert M.precision_recall(real, np.repeat(real[:1] + 100.0, 800, axis=0)) == (0.0, 0.0)
    # Batched computation (a few rows at a time) gives the same answer.
    fake = rng.standard_normal((300, 16)) * 1.5
    assert M.precision_recall(real, fake, block_rows=7) == M.precision_recall(real, fake)


def test_collapsed_generator_in_classifier_features(data_dir):
    network = feature_network("mnist")
    images, _ = example_batch(DataConfig(dataset="mnist", file="mnist10k.npz"), 400, data_dir=data_dir)
    real, _ = network.embed(images[:200])
    others, probabilities = network.embed(images[200:])
    precision, recall = M.precision_recall(real, others)
    assert precision > 0.7 and recall > 0.7
    collapsed, collapsed_probabilities = network.embed(np.repeat(images[200:201], 200, axis=0))
    assert M.precision_recall(real, collapsed)[1] < 0.05
    assert M.frechet_distance(real, collapsed) > 10 * M.frechet_distance(real, others)
    # The classifier score sees the collapse too: one class for every image.
    assert M.classifier_score(collapsed_probabilities)[0] < 1.05 < 5 < M.classifier_score(probabilities)[0]


# ---------------------------------------------------------------- classifier score


def test_classifier_score_is_one_for_a_single_class_and_the_class_count_for_certain_balanced_ones():
    assert M.classifier_score(np.full((100, 10), 0.1))[0] == pytest.approx(1.0)
    confident = np.eye(10)[np.arange(200) % 10]
    assert M.classifier_score(confident, splits=5) == pytest.approx((10.0, 0.0))


# ---------------------------------------------------------------- the feature networks


@pytest.mark.parametrize("name,dataset,accuracy", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_shipped_classifier_reaches_its_accuracy_on_the_test_split(name, dataset, accuracy, data_dir):
    folder = EXPORTED / name
    model = zoo.load(folder)  # checksums verified
    report = evaluate(model, load_recipe(folder / "recipe.toml"), data_dir=data_dir, batch_size=500)
    measured = report["classification"]["test_accuracy"]
    assert report["num_samples"] == {"fashion_mnist": 10_000, "mnist": 1_000}[dataset]
    assert measured >= accuracy
    assert read_metadata(folder)["metrics"]["test_accuracy"] == pytest.approx(measured, abs=1e-9)
    network = feature_network(dataset)
    assert network.name == name and network.dataset == dataset


def test_a_corrupted_feature_network_is_refused(tmp_path):
    copy = tmp_path / "classifier-mnist"
    shutil.copytree(EXPORTED / "classifier-mnist", copy)
    assert feature_network(str(copy)).name == "classifier-mnist"
    weights = copy / "model.keras"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="model.keras does not match its sha256"):
        feature_network(str(copy))
    with pytest.raises(EvaluationError, match="not a classifier"):
        feature_network(str(EXPORTED / "ae-fashion-mnist"))


def test_inception_without_local_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("ZOO_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(EvaluationError, match="InceptionV3 weights are not on this machine") as info:
        feature_network("inception")
    assert "ZOO_INCEPTION_WEIGHTS" in str(info.value) and "--features fashion_mnist|mnist|cifar10|emoji" in str(info.value)
    monkeypatch.setenv("ZOO_INCEPTION_WEIGHTS", str(tmp_path / "missing.h5"))
    with pytest.raises(EvaluationError, match="missing.h5, which is not a file"):
        feature_network("inception")
    with pytest.raises(EvaluationError, match="no feature network for dataset 'dsprites'"):
        default_features("dsprites")


def test_classifier_recipes_need_labels():
    raw = {"name": "c", "description": "", "model": {"family": "classifier"}, "data": {"dataset": "mnist"}}
    with pytest.raises(RecipeError, match="data.labels = true"):
        recipe_from_dict(raw)


# ---------------------------------------------------------------- evaluation by family


def test_conditional_models_sample_every_class_equally(data_dir):
    evaluator = Evaluator(zoo.load(EXPORTED / "cvae-mnist"), load_recipe(EXPORTED / "cvae-mnist" / "recipe.toml"),
                          data_dir=data_dir, batch_size=16)
    images, labels = evaluator.draw(50, {}, "samples")
    assert images.shape == (50, 28, 28, 1) and np.bincount(labels).tolist() == [5] * 10


def test_autoencoder_reconstructions_and_the_floor(data_dir):
    folder = EXPORTED / "ae-fashion-mnist"
    report = evaluate(zoo.load(folder), load_recipe(folder / "recipe.toml"), num_samples=200, data_dir=data_dir,
                      kid_subsets=10)
    reconstructions, floor = report["rows"]
    assert report["num_samples"] == 200 and report["features"]["network"] == "classifier-fashion-mnist"
    assert floor["name"].startswith("real floor") and floor["count"] == reconstructions["count"] == 200
    assert report["reconstruction"]["psnr_db"] > 15 and report["reconstruction"]["mse"] < 0.02
    assert 0 <= floor["fid"] < reconstructions["fid"]


def test_cyclegan_cycle_l1_and_translations_against_the_target_domain(data_dir):
    recipe = load_recipe(RECIPES / "cyclegan_sneaker2boot.toml",
                         overrides=["model.filters=4", "model.n_res_blocks=1", "model.disc_filters=4", "model.n_layers=1",
                                    "model.decay_epochs=0"])
    model = get_family("cyclegan").from_recipe(recipe)  # untrained: far from either domain
    report = evaluate(model, recipe, num_samples=40, data_dir=data_dir, kid_subsets=5)
    names = [row["name"] for row in report["rows"]]
    assert names[:2] == ["a2b: translated A", "b2a: translated B"] and all("floor" in n for n in names[2:])
    assert set(report["cycle"]) >= {"cycle_l1_a", "cycle_l1_b"} and report["cycle"]["cycle_l1_a"] > 0.1
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["a2b: translated A"]["fid"] > 10 * rows["real floor B (train vs test)"]["fid"]
    assert rows["a2b: translated A"]["against"] == "domain B test"


# ---------------------------------------------------------------- the command line


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_zoo_eval_writes_metrics_into_a_copy_of_a_shipped_artifact(tmp_path, data_dir):
    original = EXPORTED / "vae-mnist-binarized"
    before = {p.name: sha(p) for p in original.iterdir() if p.is_file()}
    copy = tmp_path / "vae-mnist-binarized"
    shutil.copytree(original, copy)
    result = zoo_main("eval", copy, "--num-samples", 200, "--k", 5, "--kid-subsets", 10, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "real floor" in result.stdout and "FID" in result.stdout and "iwae_nll_nats" in result.stdout
    report = json.loads((copy / "metrics.json").read_text())
    assert report["num_samples"] == 200 and report["features"]["network"] == "classifier-mnist"
    samples, floor = report["rows"]
    assert samples["count"] == floor["count"] == 200 and floor["name"].startswith("real floor")
    assert floor["fid"] < samples["fid"] and report["likelihood"]["k"] == 5
    assert 60 < report["likelihood"]["iwae_nll_nats"] <= report["likelihood"]["neg_elbo_nats"] < 200
    meta = read_metadata(copy)
    assert meta["metrics"]["fid"] == samples["fid"] and meta["metrics"]["fid_floor"] == floor["fid"]
    assert meta["evaluation"]["num_samples"] == 200 and "metrics.json" in meta["files"]
    verify_checksums(copy)  # metrics.json, the new card and the new metadata keep the artifact verifiable
    card = (copy / "README.md").read_text()
    assert "on 200 images per set" in card and f"| {samples['fid']:.4g} |" in card and "real floor" in card
    assert {p.name: sha(p) for p in original.iterdir() if p.is_file()} == before  # the shipped one is untouched


def test_zoo_eval_errors_are_one_line(tmp_path, data_dir):
    result = run_zoo("eval", EXPORTED / "ae-fashion-mnist", "--features", "inception", "--no-write",
                     "--data-dir", data_dir, env={"KERAS_HOME": str(tmp_path), "ZOO_INCEPTION_WEIGHTS": ""})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("zoo: error: InceptionV3 weights are not on this machine")


def test_progress_in_a_log_file_is_a_few_whole_lines(capsys):
    report = progress_line("zoo eval: sampling")
    for done in range(1, 101):
        report(done, 100)
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines) and 2 <= len(lines) <= 11
    assert lines[0] == "zoo eval: sampling: 1/100" and lines[-1] == "zoo eval: sampling: 100/100"
