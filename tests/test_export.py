"""Artifacts: every format agrees with Keras, files carry checksums, writes are atomic, corruption is caught."""

import json

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import zoo
from zoo.artifact import export as export_module
from zoo.artifact.store import load_examples, read_metadata, verify_checksums
from zoo.config import load_recipe
from zoo.errors import ArtifactError
from zoo.train import train


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, data_dir):
    """A tiny trained autoencoder, exported."""
    from conftest import TINY_RECIPE

    folder = tmp_path_factory.mktemp("export")
    (folder / "tiny.toml").write_text(TINY_RECIPE)
    result = train(load_recipe(folder / "tiny.toml", overrides=["train.epochs=1"]), folder / "run",
                   data_dir=data_dir, verbose=0)
    return result.export_dir


def test_artifact_layout_and_metadata(artifact):
    names = {p.name for p in artifact.iterdir()}
    assert {"model.keras", "saved_model", "encoder.onnx", "decoder.onnx", "examples.npz", "metadata.json",
            "config.json", "recipe.toml", "reconstructions.png"} <= names
    meta = read_metadata(artifact)
    assert meta["family"] == "autoencoder" and meta["name"] == "tiny-ae"
    assert meta["versions"]["keras"] == keras.__version__ and meta["versions"]["tensorflow"] == tf.__version__
    assert meta["parameters"]["total"] == meta["parameters"]["encoder"] + meta["parameters"]["decoder"] > 0
    assert [e["name"] for e in meta["endpoints"]] == ["reconstruct", "encode", "decode"]
    encode = meta["endpoints"][1]
    assert encode["inputs"][0]["name"] == "images" and encode["inputs"][0]["shape"] == [None, 28, 28, 1]
    assert encode["outputs"][0] == {**encode["outputs"][0], "name": "latent", "shape": [None, 8]}
    assert "round(clip(images, 0, 1) * 255)" in meta["endpoints"][2]["outputs"][0]["postprocess"]
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and set(meta["parity"]["by_format"]) == {"keras", "saved_model", "onnx"}
    assert set(meta["parity"]["by_format"]["onnx"]) == {"encoder.onnx", "decoder.onnx"}
    assert meta["training"]["epochs"] == 1 and meta["training"]["train_seconds"] > 0
    assert "fashion_mnist.npz [train]" in meta["dataset"]["train"]
    assert all(len(h) == 64 for h in meta["files"].values()) and "model.keras" in meta["files"]
    assert any(k.startswith("saved_model/") for k in meta["files"])


@pytest.mark.parametrize("batch", [1, 7])
def test_every_saved_model_endpoint_and_onnx_file_matches_keras(artifact, batch):
    model = zoo.load(artifact)
    rng = np.random.default_rng(batch)
    images = rng.uniform(0, 1, (batch, 28, 28, 1)).astype("float32")
    latent = rng.standard_normal((batch, 8)).astype("float32")
    expected = {"encode": model.encode(images).numpy(), "decode": model.decode(latent).numpy(),
                "reconstruct": model.reconstruct(images).numpy()}

    saved = tf.saved_model.load(str(artifact / "saved_model"))
    assert set(saved.signatures) == {"encode", "decode", "reconstruct", "serving_default"}
    got = {"encode": saved.signatures["encode"](images=images)["latent"],
           "decode": saved.signatures["decode"](latent=latent)["images"],
           "reconstruct": saved.signatures["reconstruct"](images=images)["images"]}
    got["serving_default"] = saved.signatures["serving_default"](images=images)["images"]
    expected["serving_default"] = expected["reconstruct"]
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4, rtol=0, err_msg=name)

    encoder = ort.InferenceSession(str(artifact / "encoder.onnx"))
    decoder = ort.InferenceSession(str(artifact / "decoder.onnx"))
    assert [i.name for i in encoder.get_inputs()] == ["images"] and [o.name for o in encoder.get_outputs()] == ["latent"]
    assert [i.name for i in decoder.get_inputs()] == ["latent"] and [o.name for o in decoder.get_outputs()] == ["images"]
    np.testing.assert_allclose(encoder.run(None, {"images": images})[0], expected["encode"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(decoder.run(None, {"latent": latent})[0], expected["decode"], atol=1e-4, rtol=0)


def test_examples_are_real_images_with_keras_outputs(artifact):
    examples = load_examples(artifact)
    model = zoo.load(artifact)
    assert examples["images"].shape == (4, 28, 28, 1) and examples["images"].max() > 0.5
    np.testing.assert_allclose(model.encode(examples["images"]).numpy(), examples["encode.latent"], atol=1e-5)
    np.testing.assert_allclose(model.reconstruct(examples["images"]).numpy(), examples["reconstruct.images"], atol=1e-5)
    keys = read_metadata(artifact)["examples"]["keys"]
    assert keys["decode"] == {"inputs": ["latent"], "outputs": {"images": "decode.images"}}


@pytest.mark.parametrize("victim", ["model.keras", "decoder.onnx", "saved_model/saved_model.pb", "examples.npz"])
def test_a_corrupted_file_is_named_on_load(artifact, tmp_path, victim):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(artifact, copy)
    path = copy / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"corrupt: {victim} does not match its sha256"):
        zoo.load(copy)
    path.unlink()
    with pytest.raises(ArtifactError, match=f"incomplete: {victim} is missing"):
        verify_checksums(copy)


def test_an_interrupted_export_leaves_no_partial_artifact(artifact, tmp_path, monkeypatch, data_dir):
    model = zoo.load(artifact)
    recipe = load_recipe(artifact / "recipe.toml")
    target = tmp_path / "exported" / "tiny"

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed during ONNX conversion")

    monkeypatch.setattr(export_module, "_export_onnx", crash)
    with pytest.raises(KeyboardInterrupt):
        export_module.export_model(model, recipe, target, data_dir=data_dir)
    assert not target.exists() and list((tmp_path / "exported").iterdir()) == []

    monkeypatch.undo()
    export_module.export_model(model, recipe, target, data_dir=data_dir)
    before = read_metadata(target)["files"]["model.keras"]
    monkeypatch.setattr(export_module, "_export_onnx", crash)
    with pytest.raises(KeyboardInterrupt):
        export_module.export_model(model, recipe, target, data_dir=data_dir)
    assert verify_checksums(target) and read_metadata(target)["files"]["model.keras"] == before
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["tiny"]


def test_parity_failure_fails_the_export(artifact, tmp_path, monkeypatch, data_dir):
    model = zoo.load(artifact)
    recipe = load_recipe(artifact / "recipe.toml", overrides=["export.tolerance=0.0", "export.formats=['onnx', 'saved_model']"])
    real_parity = export_module._parity

    def off_by_a_bit(*args, **kwargs):
        report = real_parity(*args, **kwargs)
        report["onnx"]["decoder.onnx"]["batch_7"] = 1e-3
        return report

    monkeypatch.setattr(export_module, "_parity", off_by_a_bit)
    with pytest.raises(zoo.ZooError, match=r"onnx decoder.onnx batch_7: 1.00e-03"):
        export_module.export_model(model, recipe, tmp_path / "bad", data_dir=data_dir)
    assert not (tmp_path / "bad").exists()


def test_metadata_is_valid_json_with_sorted_files(artifact):
    meta = json.loads((artifact / "metadata.json").read_text())
    assert list(meta["files"]) == sorted(meta["files"])


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_model_exports_float32_formats_that_match(precision, tiny_recipe, data_dir, tmp_path):
    """The mixed policy is how the run trained, recorded in the metadata; every format, model.keras too, is float32."""
    import keras

    recipe = load_recipe(tiny_recipe, overrides=["train.epochs=1", f"train.precision='{precision}'"])
    try:
        result = train(recipe, tmp_path / "run", data_dir=data_dir, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    meta = read_metadata(result.export_dir)
    assert meta["training"]["precision"] == precision and meta["recipe"]["train"]["precision"] == precision
    assert meta["parity"]["max_abs_diff"] <= 1e-4 and set(meta["parity"]["by_format"]) == {"keras", "saved_model", "onnx"}
    session = ort.InferenceSession(str(result.export_dir / "decoder.onnx"))
    assert session.get_inputs()[0].type == "tensor(float)" and session.get_outputs()[0].type == "tensor(float)"
    loaded = zoo.load(result.export_dir)
    assert loaded.dtype_policy.name == "float32" and keras.mixed_precision.global_policy().name == "float32"
    assert all(w.dtype == "float32" for w in loaded.weights if w.dtype.startswith("float"))
    assert not isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(loaded.optimizer.iterations) == meta["training"]["steps_per_epoch"]  # it can go on training
    examples = np.load(result.export_dir / "examples.npz")  # made by the float32 model, matched by model.keras
    np.testing.assert_allclose(loaded.reconstruct(examples["images"]).numpy(), examples["reconstruct.images"], atol=1e-4)
    np.testing.assert_allclose(loaded.decode(examples["latent"]).numpy(), examples["decode.images"], atol=1e-4)
