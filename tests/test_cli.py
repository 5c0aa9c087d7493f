"""The `zoo` command line: user errors are one clear line; the commands do what they say. A few calls run the real
command in a new process (`run_zoo`); the others call its `main` in this one (`zoo_main`), which is the same code."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_RECIPE, run_zoo, zoo_main
from zoo.config import load_recipe
from zoo.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "tiny.toml").write_text(TINY_RECIPE)
    train(load_recipe(folder / "tiny.toml", overrides=["train.epochs=1"]), folder / "run", data_dir=data_dir, verbose=0)
    return folder


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("zoo:")]
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_recipe_and_typo_in_recipe(tmp_path):
    assert_one_line_error(zoo_main("train", tmp_path / "nope.toml"), "nope.toml does not exist")
    typo = tmp_path / "typo.toml"
    typo.write_text(TINY_RECIPE.replace("latent_dim", "laten_dim"))
    assert_one_line_error(zoo_main("train", typo), "unknown key 'laten_dim'", "typo.toml", "did you mean 'latent_dim'?")
    assert_one_line_error(zoo_main("train", typo, "--set", "train.epochs=-1"), "unknown key 'laten_dim'")


def test_missing_dataset_fails_fast_with_where_to_put_it(tiny_recipe, tmp_path):
    result = zoo_main("train", tiny_recipe, "--out", tmp_path / "run", "--data-dir", tmp_path,
                      "--set", "data.dataset=kmnist")
    assert_one_line_error(result, "kmnist", "kmnist.npz", str(tmp_path))
    result = zoo_main("train", tiny_recipe, "--out", tmp_path / "run2", "--data-dir", tmp_path,
                      "--set", "data.file=mine.npz")
    assert_one_line_error(result, "mine.npz", str(tmp_path))


def test_debug_shows_the_traceback(tmp_path):
    result = run_zoo("--debug", "train", tmp_path / "nope.toml")
    assert result.returncode != 0 and "Traceback" in result.stderr and "RecipeError" in result.stderr


def test_reconstruct_list_info_and_sample(trained, tmp_path):
    artifact = trained / "run" / "export"
    out = tmp_path / "grid.png"
    result = run_zoo("reconstruct", artifact, "-o", out, "--scale", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    picture = np.asarray(Image.open(out))
    assert picture.shape == (2 + 2 * 30, 2 + 4 * 30) and picture.std() > 10  # 4 examples over 4 reconstructions

    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((40, 40)) * 255).astype("uint8")).save(folder / f"{i}.png")
    result = zoo_main("reconstruct", artifact, "--input", folder, "-o", tmp_path / "mine.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 inputs" in result.stdout

    env = {"ZOO_EXPORTED_DIR": str(trained / "run")}
    listing = zoo_main("list", env=env)
    assert listing.returncode == 0 and "export" in listing.stdout and "autoencoder" in listing.stdout
    assert "val_loss" in listing.stdout and "not evaluated" in listing.stdout  # the key metric before `zoo eval`
    table = zoo_main("list", "--markdown", env=env)
    assert table.returncode == 0 and "| [`export`](exported/export/README.md) | autoencoder |" in table.stdout
    info = zoo_main("info", "export", env=env)
    assert info.returncode == 0 and json.loads(info.stdout)["name"] == "tiny-ae"

    assert_one_line_error(zoo_main("sample", artifact), "autoencoder", "does not sample", "zoo reconstruct")
    assert_one_line_error(zoo_main("reconstruct", "no-such-model"), "no exported model named 'no-such-model'")


def test_corrupt_artifact_and_bad_input_are_one_line_errors(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained / "run" / "export", copy)
    (copy / "encoder.onnx").write_bytes(b"not onnx")
    assert_one_line_error(zoo_main("reconstruct", copy), "encoder.onnx does not match its sha256")
    assert_one_line_error(zoo_main("reconstruct", trained / "run" / "export", "--input", tmp_path / "absent.png"),
                          "absent.png")


def test_export_again_from_the_last_checkpoint(trained, tmp_path, data_dir):
    out = tmp_path / "exported" / "tiny-ae"
    result = zoo_main("export", trained / "run", "--out", out, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["training"]["epochs"] == 1 and meta["parity"]["max_abs_diff"] <= 1e-4
    card = (out / "README.md").read_text()  # the model card, covered by the checksums like every file
    assert "README.md" in meta["files"] and card.startswith("# tiny-ae\n")
    for section in ("## Use", "## Inputs and outputs", "## Data", "## Training", "## Evaluation", "## Export parity",
                    "## Limitations", "## Licence"):
        assert section in card, section
    assert "Not evaluated yet" in card and "Fashion-MNIST, MIT" in card and "1 epochs of" in card
    assert "| input | `images` | (N, 28, 28, 1) | float32 |" in card and "zoo reconstruct tiny-ae" in card
    (out / "README.md").write_text("edited by hand\n")
    assert_one_line_error(zoo_main("reconstruct", out), "README.md does not match its sha256")
    result = zoo_main("card", out)  # rewrites the card from the metadata and records its new checksum
    assert result.returncode == 0 and (out / "README.md").read_text() == card
    assert zoo_main("reconstruct", out, "-o", tmp_path / "r.png").returncode == 0
    assert_one_line_error(zoo_main("export", tmp_path), "not a run folder")


def test_curve_records_figures_against_training_time_from_evaluated_stages(tmp_path):
    from zoo.artifact.store import read_metadata, update_artifact, verify_checksums

    shipped = __import__("conftest").ROOT / "exported"
    stages = [tmp_path / f"e{epochs}" for epochs in (30, 15)]
    for stage, epochs, fid in zip(stages, (30, 15), (1.75, 2.5)):
        shutil.copytree(shipped / "dcgan-fashion-mnist", stage)
        meta = read_metadata(stage)
        update_artifact(stage, {}, {"training": {**meta["training"], "epochs": epochs, "train_seconds": 60.0 * epochs},
                                    "metrics": {**meta["metrics"], "fid": fid}})
    target = tmp_path / "target"
    shutil.copytree(shipped / "dcgan-fashion-mnist", target)
    result = zoo_main("curve", target, *stages)
    assert result.returncode == 0, result.stderr[-2000:]
    curve = read_metadata(target)["training_curve"]
    assert [(row["epochs"], row["train_seconds"], row["fid"]) for row in curve] == [(15, 900.0, 2.5), (30, 1800.0, 1.75)]
    assert all(row["num_samples"] == 10_000 and "kid" not in row and "fid_floor" not in row for row in curve)
    card = (target / "README.md").read_text()
    assert "| 15 | 900 | 2.5 |" in card and "| 30 | 1,800 | 1.75 |" in card
    verify_checksums(target)  # the new card and metadata are covered by the checksums

    other = tmp_path / "vae"
    shutil.copytree(shipped / "vae-fashion-mnist", other)
    assert_one_line_error(zoo_main("curve", target, stages[0], other), "another recipe")
    before = read_metadata(other)
    assert_one_line_error(zoo_main("curve", other, *stages), "another recipe than the stages")
    assert read_metadata(other) == before  # nothing written
    update_artifact(stages[1], {}, {"metrics": {}})
    assert_one_line_error(zoo_main("curve", target, *stages), "no evaluation yet", "zoo eval")
