"""The pictures of a latent space: the decoded manifold over two dimensions and the labelled latent means."""

import json
import re
import shutil

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, zoo_main
from zoo import catalogue
from zoo.artifact.store import verify_checksums
from zoo.errors import InputShapeError
from zoo.eval import latents
from zoo.models import VAE, ConditionalVAE

# the standard normal's quantiles at 0.05, 0.275, 0.5, 0.725, 0.95
Z5 = np.array([-1.6448536, -0.5977601, 0.0, 0.5977601, 1.6448536])


def test_manifold_spans_the_prior_quantiles_of_two_dimensions_only():
    keras.utils.set_random_seed(0)
    model = VAE(latent_dim=4, filters=(8, 16))
    images, codes = model.manifold((2, 0), size=5)
    assert images.shape == (25, 28, 28, 1) and codes.shape == (25, 4)
    grid = codes.reshape(5, 5, 4)
    np.testing.assert_allclose(grid[0, :, 2], Z5, atol=1e-5)  # across: dims[0], increasing
    np.testing.assert_allclose(grid[:, 0, 0], Z5[::-1], atol=1e-5)  # down: dims[1], from high to low
    assert np.all(grid[..., [1, 3]] == 0)  # the rest at the prior's mean
    with pytest.raises(InputShapeError, match="two different latent dimensions in \\[0, 4\\)"):
        model.manifold((0, 4))
    with pytest.raises(InputShapeError, match="quantile must be in"):
        model.manifold((0, 1), quantile=0.5)


def test_manifold_of_a_cvae_is_centred_on_its_label_gaussian():
    keras.utils.set_random_seed(0)
    model = ConditionalVAE(latent_dim=3, filters=(8, 16), num_classes=4, prior="class_gaussians")
    loc = np.array([[0, 0, 0], [1, 2, 3], [0, 0, 0], [0, 0, 0]], "float32")
    scale = np.tile(np.diag([0.5, 2.0, 1.0]).astype("float32"), (4, 1, 1))
    model.prior_loc.assign(loc)
    model.prior_scale_tril.assign(scale)
    _, codes = model.manifold((0, 1), size=5, label=1)
    grid = codes.reshape(5, 5, 3)
    np.testing.assert_allclose(grid[0, :, 0], 1 + 0.5 * Z5, atol=1e-5)
    np.testing.assert_allclose(grid[:, 0, 1], 2 + 2.0 * Z5[::-1], atol=1e-5)
    np.testing.assert_allclose(grid[..., 2], 3.0)


def test_projection_keeps_two_dimensions_and_finds_the_principal_plane():
    rng = np.random.default_rng(0)
    flat = rng.standard_normal((500, 2)) * [5.0, 2.0]
    points, axes = latents.project_2d(flat)
    np.testing.assert_array_equal(points, flat)
    assert axes == ("z[0]", "z[1]")
    embedded = np.concatenate([flat, 0.01 * rng.standard_normal((500, 3))], axis=1) @ np.linalg.qr(rng.standard_normal((5, 5)))[0]
    projected, axes = latents.project_2d(embedded)
    shares = [int(re.fullmatch(r"PC (\d) \((\d+)% of variance\)", axis).group(2)) for axis in axes]
    assert 82 <= shares[0] <= 90 and 99 <= sum(shares) <= 101  # 25 / (25 + 4) = 86% in expectation
    np.testing.assert_allclose(np.abs(np.corrcoef(projected[:, 0], flat[:, 0])[0, 1]), 1.0, atol=1e-3)
    assert latents.project_2d(embedded, (3, 1))[1] == ("z[3]", "z[1]")


def test_the_cluster_plot_names_every_class_in_its_legend():
    names = catalogue.dataset("fashion_mnist").class_names
    labels = np.arange(200) % 10
    figure = latents.scatter_figure(np.random.default_rng(0).standard_normal((200, 2)), labels, names, title="t")
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == [f"{k} {name}" for k, name in enumerate(names)]
    digits = latents.scatter_figure(np.zeros((10, 2)), np.arange(10), [str(k) for k in range(10)], title="t")
    assert [t.get_text() for t in digits.axes[0].get_legend().get_texts()] == [str(k) for k in range(10)]


def test_zoo_manifold_and_clusters_write_their_pictures(tmp_path, data_dir):
    result = zoo_main("manifold", "vae-fashion-mnist", "--size", "6", "--dims", "3,5", "--scale", "1", "-o", tmp_path / "m.png")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "m.png").size == (6 * 28, 6 * 28)
    result = zoo_main("clusters", "cvae-mnist", "-n", "300", "--data-dir", data_dir, "-o", tmp_path / "c.png")
    assert result.returncode == 0, result.stderr
    assert "300 test images" in result.stdout and "PC 1" in result.stdout and Image.open(tmp_path / "c.png").size[0] > 500
    for args, message in [(("manifold", "dcgan-fashion-mnist"), "has no probabilistic latent space"),
                          (("manifold", "vae-fashion-mnist", "--dims", "0"), "--dims takes two different latent dimensions"),
                          (("manifold", "vae-fashion-mnist", "--size", "101"), "use at most 100"),
                          (("manifold", "vae-fashion-mnist", "--label", "1"), "vae-fashion-mnist is not conditional"),
                          (("manifold", "cvae-mnist", "--label", "10"), "takes labels in [0, 10)"),
                          (("clusters", "vae-fashion-mnist", "-o", tmp_path / "c.jpg"), "written as PNG"),
                          (("clusters", "vae-fashion-mnist", "-n", "0"), "-n must be")]:
        result = zoo_main(*args, "-o", tmp_path / "x.png") if "-o" not in args else zoo_main(*args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "x.png").exists()


def test_into_card_adds_the_picture_to_the_artifact_and_its_card(tmp_path):
    folder = tmp_path / "vae"
    shutil.copytree(ROOT / "exported" / "vae-fashion-mnist", folder)
    result = zoo_main("manifold", folder, "--size", "4", "--into-card", "-o", tmp_path / "m.png")
    assert result.returncode == 0, result.stderr
    result = zoo_main("traverse", folder, "--dims", "0-1", "--steps", "3", "--into-card", "-o", tmp_path / "t.png")
    assert result.returncode == 0, result.stderr
    meta = json.loads((folder / "metadata.json").read_text())
    assert list(meta["figures"]) == ["manifold.png", "traversal.png"]
    assert (folder / "manifold.png").read_bytes() == (tmp_path / "m.png").read_bytes()
    assert verify_checksums(folder) == folder  # the new files are listed with their sha256
    card = (folder / "README.md").read_text()
    assert "## Latent space" in card and "![manifold.png](manifold.png)" in card and "Latent traversal (`zoo traverse`)" in card
