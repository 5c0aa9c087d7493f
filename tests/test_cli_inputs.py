"""What a new user typed and got a traceback or a silent wrong result for: every input is checked, the message
is one line naming the fix, and nothing is written. Concurrent writers of one file never clobber each other;
`zoo info --verify` reports each file's check."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, TINY_RECIPE, zoo_main
from test_cli import assert_one_line_error
from zoo.config import load_recipe
from zoo.train import train

SAMPLER = ROOT / "exported" / "dcgan-fashion-mnist"  # small and quick to load
TRANSLATOR = ROOT / "exported" / "cyclegan-sneaker2boot"


@pytest.fixture(scope="module")
def tiny_ae(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "tiny.toml").write_text(TINY_RECIPE)
    train(load_recipe(folder / "tiny.toml", overrides=["train.epochs=1"]), folder / "run", data_dir=data_dir, verbose=0)
    return folder / "run" / "export"


def nothing_in(folder) -> bool:
    return not any(folder.iterdir())


@pytest.mark.parametrize("args,fragments", [
    (["-n", "0"], ["-n must be a positive whole number, got 0"]),
    (["-n", "-5"], ["-n must be a positive whole number, got -5"]),
    (["-n", "100000000"], ["more than 10,000 images", "in batches"]),
    (["--scale", "0"], ["--scale must be a positive whole number, got 0"]),
    (["--scale", "-2"], ["--scale must be a positive whole number, got -2"]),
    (["-o", "{out}/samples.gif"], [".png, .jpg or .jpeg"]),
    (["--steps", "10"], ["--steps choose a diffusion sampler", "drop them"]),
])
def test_bad_sample_arguments_are_one_line_and_write_nothing(tmp_path, args, fragments):
    args = [a.replace("{out}", str(tmp_path)) for a in args]
    output = [] if "-o" in args else ["-o", tmp_path / "samples.png"]
    assert_one_line_error(zoo_main("sample", SAMPLER, *args, *output), *fragments)
    assert nothing_in(tmp_path)


def test_reconstruct_checks_n_instead_of_showing_fewer(tiny_ae, tmp_path):
    assert_one_line_error(zoo_main("reconstruct", tiny_ae, "-n", "-5", "-o", tmp_path / "r.png"),
                          "-n must be a positive whole number, got -5")
    assert nothing_in(tmp_path)


def test_an_output_naming_a_folder_is_refused_without_a_stray_file(tiny_ae, tmp_path):
    target = tmp_path / "grids"
    target.mkdir()
    assert_one_line_error(zoo_main("reconstruct", tiny_ae, "-o", target), "is a folder", "name a file in it")
    assert nothing_in(target) and [p.name for p in tmp_path.iterdir()] == ["grids"]


def test_a_jpg_name_gets_jpeg_bytes(tiny_ae, tmp_path):
    result = zoo_main("reconstruct", tiny_ae, "-o", tmp_path / "r.jpg")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "r.jpg") as image:
        assert image.format == "JPEG" and image.size[0] > 0


def test_translate_refuses_an_existing_file_as_its_folder(tmp_path):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((28, 28), "uint8")).save(image)
    assert_one_line_error(zoo_main("translate", TRANSLATOR, image, "-o", existing), "is a file", "name a folder")
    assert existing.read_bytes() == b"keep me"


def test_a_garbage_npy_is_named_for_what_it_is(tiny_ae, tmp_path):
    garbage = tmp_path / "images.npy"
    garbage.write_bytes(b"this is not numpy at all" * 10)
    result = zoo_main("reconstruct", tiny_ae, "--input", garbage, "-o", tmp_path / "r.png")
    assert_one_line_error(result, "is not a .npy file", "numpy.save")
    assert "pickled" not in result.stderr and not (tmp_path / "r.png").exists()


def test_four_writers_of_one_file_all_finish_with_a_whole_picture(tmp_path):
    out = tmp_path / "same.png"
    writers = [subprocess.Popen([sys.executable, "-m", "zoo", "sample", str(SAMPLER), "-n", "4", "--seed", str(i),
                                 "-o", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(4)]
    results = [(w.wait(timeout=600), w.stderr.read()) for w in writers]
    assert all(code == 0 for code, _ in results), [err[-1000:] for _, err in results]
    with Image.open(out) as image:
        image.load()
        assert image.format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["same.png"]  # no temporary file left behind


def test_info_verify_reports_each_file_and_fails_on_damage(tiny_ae, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_ae, copy)
    ok = zoo_main("info", copy, "--verify")
    assert ok.returncode == 0 and "match their sha256" in ok.stdout and '"check": "ok, loads"' in ok.stdout

    keras_file = copy / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[: keras_file.stat().st_size // 2])  # truncated
    (copy / "encoder.onnx").unlink()
    bad = zoo_main("info", copy, "--verify")
    assert bad.returncode == 1
    assert '"check": "altered"' in bad.stdout and '"check": "missing"' in bad.stdout
    assert "model.keras altered" in bad.stdout and "encoder.onnx missing" in bad.stdout
    listed = zoo_main("info", copy, "--files")
    assert listed.returncode == 0 and '"check": "missing"' in listed.stdout  # reported, without the exit code


def test_names_resolve_from_a_chosen_zoo_directory(tiny_ae, tmp_path):
    import zoo

    zoo_dir = tmp_path / "my-zoo"
    shutil.copytree(tiny_ae, zoo_dir / "my-ae")
    listing = zoo_main("list", "--zoo-dir", zoo_dir)
    assert listing.returncode == 0 and "my-ae" in listing.stdout
    assert zoo_main("info", "my-ae", "--zoo-dir", zoo_dir, "--verify").returncode == 0
    assert zoo_main("info", "my-ae", env={"ZOO_EXPORTED_DIR": str(zoo_dir)}).returncode == 0
    assert zoo.load("my-ae", zoo_dir=zoo_dir).family == "autoencoder"
    assert_one_line_error(zoo_main("info", "my-ae"), "no exported model named 'my-ae'", "--zoo-dir")
