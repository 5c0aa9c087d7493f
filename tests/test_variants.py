"""Smaller ONNX variants: float16 and int8 copies of every ONNX file, written by the export and by `zoo variants`,
run in onnxruntime, measured beside float32 (size, difference, latency, FID), covered by the checksums, and skipped
with a reason when they cannot be built or run."""

import functools
import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest

from conftest import TINY_RECIPE, zoo_main
from zoo.artifact import card, index, variants
from zoo.artifact.export import export_model
from zoo.artifact.store import check_files, load_examples, read_metadata, verify_checksums
from zoo.config import load_recipe
from zoo.errors import EvaluationError, RecipeError
from zoo.eval.variants import fid_scorer
from zoo.train.loop import build_model

FILES = ("encoder.onnx", "decoder.onnx")
FID_N = 16


def _export(folder, data_dir, *overrides):
    """The tiny autoencoder, untrained, exported in the onnx format only (seconds)."""
    (folder / "tiny.toml").write_text(TINY_RECIPE)
    recipe = load_recipe(folder / "tiny.toml", overrides=['export.formats=["onnx"]', *overrides])
    return export_model(build_model(recipe), recipe, folder / "tiny-ae", data_dir=data_dir,
                        variant_fid=functools.partial(fid_scorer, data_dir=data_dir))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, data_dir):
    return _export(tmp_path_factory.mktemp("variants"), data_dir, f"export.variant_fid_samples={FID_N}")


@pytest.fixture
def copy(artifact, tmp_path):
    return shutil.copytree(artifact, tmp_path / "tiny-ae")


def _io(session):
    return ([(i.name, i.type, i.shape) for i in session.get_inputs()],
            [(o.name, o.type, o.shape) for o in session.get_outputs()])


def _diff(folder, onnx_file, endpoint):
    meta = read_metadata(folder)
    keys = meta["examples"]["keys"][endpoint]
    examples = load_examples(folder)
    session = ort.InferenceSession(str(folder / onnx_file), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {k: examples[k] for k in keys["inputs"]})))
    return max(float(np.max(np.abs(got[name] - examples[key]))) for name, key in keys["outputs"].items())


def test_the_export_writes_both_variants_of_every_onnx_file_and_they_run_like_float32(artifact):
    for onnx_file, endpoint in zip(FILES, ("encode", "decode")):
        float32 = ort.InferenceSession(str(artifact / onnx_file), providers=["CPUExecutionProvider"])
        for kind in variants.KINDS:
            name = variants.variant_file(onnx_file, kind)
            session = ort.InferenceSession(str(artifact / name), providers=["CPUExecutionProvider"])
            assert _io(session) == _io(float32), name  # same names, dtypes and shapes: a drop-in replacement
            diff = _diff(artifact, name, endpoint)
            recorded = read_metadata(artifact)["variants"]["files"][onnx_file][kind]["max_abs_diff"]
            assert diff == pytest.approx(recorded, abs=1e-6), name
            if kind == "fp16":
                assert 0 < diff < 1e-2, (name, diff)  # float16 round-off: there, and small
            else:
                assert diff < 0.5, (name, diff)
    assert variants.variant_file("generator_a2b.onnx", "int8") == "generator_a2b.int8.onnx"


def test_metadata_records_sizes_diffs_latencies_and_fid_beside_float32(artifact):
    record = read_metadata(artifact)["variants"]
    assert record["kinds"] == ["fp16", "int8"] and set(record["files"]) == set(FILES)
    for onnx_file, entry in record["files"].items():
        assert entry["float32"]["bytes"] == (artifact / onnx_file).stat().st_size
        for kind in variants.KINDS:
            item = entry[kind]
            assert item["file"] == variants.variant_file(onnx_file, kind)
            assert item["bytes"] == (artifact / item["file"]).stat().st_size
            assert set(item["latency_ms"]) == {"batch_1", "batch_64"} and min(item["latency_ms"].values()) > 0
            assert item["latency_ms_float32"] == entry["float32"]["latency_ms"]
        assert entry["fp16"]["bytes"] < 0.6 * entry["float32"]["bytes"]  # float16 weights: about half
        assert entry["int8"]["weight_type"] in ("QInt8", "QUInt8") and entry["int8"]["quantized_ops"]
    decoder, encoder = record["files"]["decoder.onnx"], record["files"]["encoder.onnx"]
    fid = decoder["fid"]
    assert fid["n"] == FID_N and fid["features"] == "classifier-fashion-mnist" and set(fid["scores"]) == {"float32", *variants.KINDS}
    assert "codes of the test images" in fid["inputs"]  # an autoencoder's decoder: the FID of reconstructions
    for kind in variants.KINDS:
        assert decoder[kind]["fid"] == fid["scores"][kind] and decoder[kind]["fid_float32"] == fid["scores"]["float32"]
        assert decoder[kind]["fid_n"] == FID_N and "fid" not in encoder[kind]
    assert "FID does not apply" in encoder["fid"]["not_applicable"]


def test_checksums_cover_the_variants_and_the_card_shows_their_table(artifact):
    verify_checksums(artifact)
    assert set(check_files(artifact).values()) == {"ok"}  # nothing unlisted either
    listed = read_metadata(artifact)["files"]
    assert {variants.variant_file(f, k) for f in FILES for k in variants.KINDS} <= set(listed)
    text = (artifact / "README.md").read_text()
    assert text == card.render(artifact)
    assert "## Smaller variants" in text and "| `decoder.fp16.onnx` | fp16 |" in text
    assert f"n = {FID_N}" in text and "No FID for `encoder.onnx`" in text
    assert index.entry(artifact, read_metadata(artifact), artifact.parent)["variants"] == ["fp16", "int8"]


def test_a_variant_that_cannot_be_built_is_skipped_with_the_reason(copy, monkeypatch):
    def broken(source, target):
        raise RuntimeError("no float16 today")

    monkeypatch.setattr(variants, "to_float16", broken)
    record = variants.build_variants(copy)
    meta = read_metadata(copy)
    for onnx_file in FILES:
        entry = record["files"][onnx_file]
        assert entry["fp16"] == {"skipped": "RuntimeError: no float16 today"}
        assert entry["int8"]["file"] in meta["files"] and (copy / entry["int8"]["file"]).is_file()
        stale = variants.variant_file(onnx_file, "fp16")  # the previous export's copy leaves folder and list
        assert not (copy / stale).exists() and stale not in meta["files"]
        assert "not_measured" in entry["fid"]
    assert meta["variants"] == record and index.entry(copy, meta, copy.parent)["variants"] == ["int8"]
    verify_checksums(copy)
    assert set(check_files(copy).values()) == {"ok"}
    assert "No fp16 variant of `decoder.onnx`: RuntimeError: no float16 today" in (copy / "README.md").read_text()


def test_a_variant_onnxruntime_cannot_run_is_skipped_and_the_reason_names_no_machine_path(copy, monkeypatch):
    def garbage(source, target):
        target.write_bytes(b"not an onnx graph")
        return {}

    monkeypatch.setattr(variants, "to_float16", garbage)
    record = variants.build_variants(copy, kinds=["fp16"])
    reason = record["files"]["decoder.onnx"]["fp16"]["skipped"]
    assert "decoder.fp16.onnx" in reason and "/" not in reason.replace("decoder.fp16.onnx", ""), reason
    assert record["kinds"] == ["fp16"] and "int8" not in record["files"]["decoder.onnx"]
    assert not list(copy.glob("*.int8.onnx")) and not list(copy.glob("*.fp16.onnx"))
    verify_checksums(copy)


def test_int8_is_skipped_when_neither_weight_type_quantizes(copy, monkeypatch):
    import onnxruntime.quantization

    def refuse(*args, **kwargs):
        raise ValueError("unsupported operator")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", refuse)
    record = variants.build_variants(copy, kinds=["int8"])
    assert record["files"]["encoder.onnx"]["int8"]["skipped"] == ("QInt8: ValueError: unsupported operator; "
                                                                  "QUInt8: ValueError: unsupported operator")


def test_zoo_variants_rewrites_them_and_refuses_bad_arguments_in_one_line(copy, tmp_path, data_dir):
    for args, message in (
            (["--fid-n", "2"], "--fid-n must be 0 (no FID) or at least 4 images, got 2"),
            (["--fid-n", "-1"], "--fid-n must be 0 (no FID) or at least 4 images"),
            (["--kinds", "int4"], "--kinds 'int4': the variants are fp16, int8"),
            (["--data-dir", tmp_path / "absent"], "is not a folder"),
    ):
        result = zoo_main("variants", copy, *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("zoo: error: ") and message in result.stderr and result.stderr.count("\n") == 1
    missing = zoo_main("variants", "no-such-model", "--zoo-dir", tmp_path)
    assert missing.returncode == 1 and "no exported model named 'no-such-model'" in missing.stderr
    (copy / "decoder.onnx").write_bytes(b"altered")
    altered = zoo_main("variants", copy, "--fid-n", "0")
    assert altered.returncode == 1 and "decoder.onnx does not match its sha256" in altered.stderr


def test_zoo_variants_measures_the_fid_it_is_asked_for(copy, data_dir):
    result = zoo_main("variants", copy, "--fid-n", "8", "--kinds", "fp16", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "decoder.fp16.onnx" in result.stdout and "FID of decoder.onnx: n = 8" in result.stdout
    meta = read_metadata(copy)
    assert meta["variants"]["files"]["decoder.onnx"]["fp16"]["fid_n"] == 8
    assert not list(copy.glob("*.int8.onnx")) and all(".int8." not in f for f in meta["files"])
    verify_checksums(copy)
    with pytest.raises(EvaluationError, match="at least 4 images"):
        fid_scorer(3)


def test_the_recipe_chooses_the_variants(tmp_path, data_dir):
    (tmp_path / "r.toml").write_text(TINY_RECIPE)
    with pytest.raises(RecipeError, match="int4"):
        load_recipe(tmp_path / "r.toml", overrides=['export.variants=["int4"]'])
    plain = _export(tmp_path, data_dir, "export.variants=[]")
    assert "variants" not in read_metadata(plain) and not list(plain.glob("*.fp16.onnx"))
    assert "## Smaller variants" not in (plain / "README.md").read_text()
    assert json.loads((plain / "metadata.json").read_text())["recipe"]["export"]["variants"] == []
