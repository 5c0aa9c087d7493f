"""The total correlation of a VAE's aggregate posterior: the estimator on known Gaussians, and the command that
records it beside the other models of the same data."""

import json
import shutil

import numpy as np
import pytest

from conftest import ROOT, zoo_main
from zoo.artifact.store import verify_checksums
from zoo.eval.disentanglement import total_correlation


def _posteriors(points, stddev, rng):
    s = np.full(points.shape, stddev)
    return points, s, points + s * rng.standard_normal(points.shape)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_total_correlation_of_correlated_gaussians_is_the_closed_form(rho):
    """A bivariate Gaussian with correlation r has TC = -log(1 - r^2) / 2: posteriors of stddev s around points of
    correlation rho aggregate to r = rho / (1 + s^2). Independent codes give about 0."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((3000, 2)) @ np.linalg.cholesky([[1, rho], [rho, 1]]).T
    expected = -0.5 * np.log(1 - (rho / (1 + 0.2**2)) ** 2)
    assert total_correlation(*_posteriors(points, 0.2, rng)) == pytest.approx(expected, abs=0.06)
    independent = total_correlation(*_posteriors(rng.standard_normal((3000, 2)), 0.2, rng))
    assert abs(independent) < 0.08 and independent < expected - 0.05


def test_total_correlation_ignores_scale_and_sees_dependence_beyond_correlation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(3000)
    scaled = total_correlation(*_posteriors(np.stack([x, 10 * rng.standard_normal(3000)], 1), 0.2, rng))
    ring = np.stack([np.cos(6 * x), np.sin(6 * x)], 1) * 2  # uncorrelated but dependent (a circle)
    assert abs(scaled) < 0.1 and total_correlation(*_posteriors(ring, 0.1, rng)) > 0.5


def test_zoo_disentanglement_records_tc_and_the_cards_compare_the_models(tmp_path, data_dir):
    result = zoo_main("disentanglement", "beta-vae-fashion-mnist", "-n", "300", "--no-write", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "total correlation" in result.stdout and "of 10, on 300 images" in result.stdout
    for name in ("vae-fashion-mnist", "beta-vae-fashion-mnist"):
        shutil.copytree(ROOT / "exported" / name, tmp_path / name, ignore=shutil.ignore_patterns("saved_model", "*.onnx"))
        meta = json.loads((tmp_path / name / "metadata.json").read_text())
        meta["files"] = {k: v for k, v in meta["files"].items() if (tmp_path / name / k).exists()}
        meta["metrics"].pop("total_correlation_nats", None)
        (tmp_path / name / "metadata.json").write_text(json.dumps(meta))
    for name in ("vae-fashion-mnist", "beta-vae-fashion-mnist"):
        result = zoo_main("disentanglement", tmp_path / name, "-n", "300", "--data-dir", data_dir)
        assert result.returncode == 0, result.stderr
    assert "rewrote the cards of beta-vae-fashion-mnist, vae-fashion-mnist" in result.stdout
    report = json.loads((tmp_path / "vae-fashion-mnist" / "metrics.json").read_text())
    assert report["latent"]["num_images"] == 300 and len(report["latent"]["kl_per_dimension_nats"]) == 16
    verify_checksums(tmp_path / "vae-fashion-mnist")
    card = (tmp_path / "vae-fashion-mnist" / "README.md").read_text()
    assert "| `vae-fashion-mnist` (this model) | 16 | 1 |" in card and "| `beta-vae-fashion-mnist` | 10 | 4 |" in card
    for args, message in [(("dcgan-fashion-mnist",), "has no posterior to measure"),
                          (("vae-fashion-mnist", "-n", "20000"), "use at most 10000"),
                          (("vae-fashion-mnist", "-n", "0"), "-n must be")]:
        result = zoo_main("disentanglement", *args, "--no-write", "--data-dir", data_dir)
        assert result.returncode == 1 and message in result.stderr, result.stderr
