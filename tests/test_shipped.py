"""Every artifact committed under exported/ loads, verifies, and reproduces its examples in every format."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import zoo
from zoo.artifact import card as model_card
from zoo.artifact.store import load_examples, read_metadata

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
ARTIFACTS = sorted(p for p in EXPORTED.iterdir() if (p / "metadata.json").is_file()) if EXPORTED.is_dir() else []
README = Path(__file__).resolve().parents[1] / "README.md"


# The zoo's catalogue: every model the project promises, with its family.
PROMISED = {
    "ae-fashion-mnist": "autoencoder", "vae-fashion-mnist": "vae", "vae-mnist-binarized": "vae",
    "beta-vae-fashion-mnist": "vae", "cvae-mnist": "cvae", "dcgan-fashion-mnist": "dcgan", "cgan-mnist": "cgan",
    "wgan-gp-fashion-mnist": "wgan_gp", "cyclegan-sneaker2boot": "cyclegan", "ddpm-fashion-mnist": "ddpm",
    "classifier-fashion-mnist": "classifier", "classifier-mnist": "classifier", "vae-2d-mnist": "vae",
    "vae-background-fashion-mnist": "vae", "ddpm-cfg-fashion-mnist": "guided_ddpm", "dbvae-fashion-mnist": "dbvae",
    "classifier-cifar10": "classifier",
}


def test_the_zoo_ships_every_promised_model():
    shipped = {p.name: read_metadata(p)["family"] for p in ARTIFACTS}
    missing = sorted(set(PROMISED) - set(shipped))
    assert not missing, f"not shipped under exported/: {missing}"
    assert {name: shipped[name] for name in PROMISED} == PROMISED


def test_exported_folder_stays_small():
    total = sum(p.stat().st_size for p in EXPORTED.rglob("*") if p.is_file())
    assert total < 320 * 2**20, f"exported/ holds {total / 2**20:.0f} MB; the limit is 320 MB (issue 38)"


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: p.name)
def test_shipped_artifact_reproduces_its_examples(folder):
    meta = read_metadata(folder)
    model = zoo.load(folder)  # verifies every sha256 first
    examples = load_examples(folder)
    saved = tf.saved_model.load(str(folder / "saved_model"))
    for endpoint in meta["endpoints"]:
        inputs = {name: examples[name] for name in meta["examples"]["keys"][endpoint["name"]]["inputs"]}
        outputs = meta["examples"]["keys"][endpoint["name"]]["outputs"]
        keras_out = {e.name: e for e in model.endpoints()}[endpoint["name"]].fn(
            **{k: tf.constant(v) for k, v in inputs.items()})
        saved_out = saved.signatures[endpoint["name"]](**{k: tf.constant(v) for k, v in inputs.items()})
        for name, key in outputs.items():
            np.testing.assert_allclose(np.asarray(keras_out[name]), examples[key], atol=1e-4, rtol=0)
            np.testing.assert_allclose(saved_out[name].numpy(), examples[key], atol=1e-4, rtol=0)
        if endpoint["onnx"]:
            session = ort.InferenceSession(str(folder / endpoint["onnx"]))
            got = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
            for name, key in outputs.items():
                np.testing.assert_allclose(got[name], examples[key], atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def reloaded_in_a_fresh_process() -> dict:
    """``keras.models.load_model`` on every artifact in one new Python process (one TensorFlow start-up, not one
    per artifact): each model's class name and the largest difference of its endpoints from examples.npz."""
    script = (
        "import json, sys, numpy as np, keras, tensorflow as tf, zoo\n"
        "report = {}\n"
        "for folder in sys.argv[1:]:\n"
        "    m = keras.models.load_model(folder + '/model.keras')\n"
        "    ex = np.load(folder + '/examples.npz')\n"
        "    keys = json.load(open(folder + '/metadata.json'))['examples']['keys']\n"
        "    worst = 0.0\n"
        "    for e in m.endpoints():\n"
        "        out = e.fn(**{name: tf.constant(ex[name]) for name in keys[e.name]['inputs']})\n"
        "        for name, key in keys[e.name]['outputs'].items():\n"
        "            worst = max(worst, float(np.abs(np.asarray(out[name]) - ex[key]).max()))\n"
        "    report[folder] = [type(m).__name__, worst]\n"
        "print(json.dumps(report))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *map(str, ARTIFACTS)], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: p.name)
def test_keras_load_model_works_in_a_fresh_process(folder, reloaded_in_a_fresh_process):
    # Every endpoint of the reloaded model reproduces the outputs stored in examples.npz.
    name, diff = reloaded_in_a_fresh_process[str(folder)]
    assert name == read_metadata(folder)["class_name"] and diff <= 1e-4, (name, diff)


# A path that names a place on some machine: absolute (/..., ~/..., C:\\...) or climbing out of the artifact (../).
MACHINE_PATH = re.compile(r"(?:^|[\s\"'`(\[=])((?:/|~/|\.\./|[A-Za-z]:\\)[\w.-]+)")
TEXT_FILES = (".json", ".md", ".toml", ".txt", ".csv")


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: p.name)
def test_no_shipped_file_holds_a_machine_path(folder):
    found = [f"{path.relative_to(folder)}: {match.group(1)}" for path in sorted(folder.rglob("*"))
             if path.suffix in TEXT_FILES for match in MACHINE_PATH.finditer(path.read_text())]
    assert not found, found
    assert MACHINE_PATH.search('"train": "/home/me/data/x.npz"') and MACHINE_PATH.search("see ../shared/data")


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: p.name)
def test_shipped_model_card_is_current_and_complete(folder):
    # README.md is what model_card renders from the metadata and metrics now: regenerate with `zoo card NAME`.
    meta = read_metadata(folder)
    card = (folder / "README.md").read_text()
    assert card == model_card.render(folder), f"stale model card: run `zoo card {folder.name}`"
    assert (folder / "metrics.json").is_file() and meta.get("metrics"), f"not evaluated: run `zoo eval {folder.name}`"
    assert meta["training"]["train_seconds"] > 0 and meta["training"]["hardware"]["cpu_count"] >= 1
    if any(key.startswith("fid") for key in meta["metrics"]):
        assert "real floor" in card and "fid_floor" in "".join(meta["metrics"])
    assert (folder / meta["preview"]).is_file() and not list(folder.rglob("*.weights.h5"))  # no checkpoints


def test_readme_model_table_lists_every_shipped_model():
    text = README.read_text()
    for line in model_card.catalog({p.name: p for p in ARTIFACTS}):
        assert line in text, f"README.md's model table is stale: paste `zoo list --markdown` ({line[:60]}...)"
