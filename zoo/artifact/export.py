"""Exporting a trained model as an artifact folder that loads in Keras and runs outside it.

An artifact holds::

    model.keras        the whole model, with its optimizer state unless export.optimizer_state = false
                       (keras.models.load_model after `import zoo`)
    saved_model/       keras.export.ExportArchive: one signature per endpoint, named inputs and outputs
    <part>.onnx        the deployable parts (e.g. encoder.onnx, decoder.onnx), dynamic batch
    <part>.fp16.onnx   smaller copies of them, float16 and dynamic int8 (:mod:`zoo.artifact.variants`),
    <part>.int8.onnx   measured against float32 in metadata.json's ``variants``
    examples.npz       example inputs and the outputs Keras gives for them: test vectors for other runtimes
    config.json        the model's Keras config;  recipe.toml  the resolved recipe
    <extra files>      what the family adds (``model.artifact_files()``), e.g. a diffusion model's schedule.json
    metadata.json      what it is, inputs/outputs and post-processing, parity with Keras, sha256 of every file
    <preview>.png      a grid of what the model does
    README.md          the model card (:mod:`zoo.artifact.card`), rewritten by ``zoo eval``

Every format (model.keras too) is written from a float32 copy of the model on one device, whatever
precision and strategy it trained with (the metadata records those), and every format is run on
the same random inputs at batch 1 and 7 and compared with Keras: a difference above the
recipe's tolerance fails the export. The folder is written under a temporary name and
renamed into place, so an interrupted export never leaves a half-written artifact.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo import data, images, runtime
from zoo.artifact import card
from zoo.artifact.index import runtime_description
from zoo.artifact.store import METADATA, file_checksums
from zoo.artifact.variants import build_variants
from zoo.config import Recipe
from zoo.errors import ExportError
from zoo.files import replace_folder, temporary_folder

PARITY_BATCHES = (1, 7)


def float32_copy(model, *, optimizer_state: bool = True):
    """The model as it ships: float32 weights and compute, on one device, compiled with the trained optimizers'
    state (or, without ``optimizer_state``, not compiled: half the size of model.keras for Adam). A mixed precision
    policy or a tf.distribute strategy is how a run trained, not what a user loads."""
    on_one_device = model.distribute_strategy is tf.distribute.get_strategy()
    if model.dtype_policy.name == "float32" and on_one_device and (optimizer_state or not model.compiled):
        return model
    config = model.get_config()
    config["dtype"] = "float32"
    with runtime.precision("float32"):
        copy = type(model).from_config(config)
        copy.set_weights(model.get_weights())
        if model.compiled and optimizer_state:
            copy.compile_like(model)
    return copy


def _as_numpy(outputs) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype="float32") for k, v in outputs.items()}


def _run_keras(endpoint, inputs):
    return _as_numpy(endpoint.fn(**{i.name: tf.constant(inputs[i.name]) for i in endpoint.inputs}))


def _max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - np.asarray(b[k], dtype="float32")))) for k in a)


def _export_saved_model(endpoints, path: Path) -> None:
    """One signature per endpoint. add_endpoint tracks the variables each endpoint uses; the model itself is not
    tracked, so the SavedModel holds no default ``call`` signature (not every family has a one-input ``call``)."""
    archive = keras.export.ExportArchive()
    for endpoint in endpoints:
        archive.add_endpoint(name=endpoint.name, fn=endpoint.fn, input_signature=[i.spec() for i in endpoint.inputs])
    archive.write_out(str(path), verbose=False)


def _expm1_as_exp_minus_one(ctx, node, name, args):
    """tf2onnx has no converter for TF's Expm1 (TFP's continuous Bernoulli uses it): Exp(x) - 1."""
    from tf2onnx import utils  # tf2onnx and onnxruntime load in seconds: only when an export runs

    node.type = "Exp"
    one = ctx.make_const(utils.make_name(f"{node.name}_one"),
                         np.array(1, dtype=utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))))
    ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[node.output[0], one.output[0]])
    return node


ONNX_REWRITES = {"Expm1": (_expm1_as_exp_minus_one, [])}


def _export_onnx(endpoint, path: Path, opset: int) -> None:
    import tf2onnx

    signature = [i.spec() for i in endpoint.inputs]
    function = tf.function(endpoint.fn, input_signature=signature)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf2onnx.convert.from_function(function, input_signature=signature, opset=opset, output_path=str(path),
                                      custom_op_handlers=ONNX_REWRITES)


def _parity(f32, endpoints, folder: Path, formats, seed: int = 1234) -> dict:
    """Max abs difference of every format from Keras, per endpoint and batch size, on random inputs.

    Endpoints whose images have a dynamic height and width are checked at each of their ``parity_sizes``.

    Every format (the reloaded ``model.keras`` too) is compared with the float32 model it was written from.
    """
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    saved = tf.saved_model.load(str(folder / "saved_model")) if "saved_model" in formats else None
    reloaded = None
    if "keras" in formats:
        reloaded = {e.name: e for e in keras.models.load_model(folder / "model.keras").endpoints()}
    sessions, report = {}, {}

    def record(fmt, name, case, value):
        report.setdefault(fmt, {}).setdefault(name, {})[f"batch_{case}"] = value

    for batch in PARITY_BATCHES:
        for endpoint, size in ((e, size) for e in endpoints for size in (e.parity_sizes or ((),))):
            inputs = {i.name: i.random(batch, rng, f32.num_classes, size) for i in endpoint.inputs}
            case = f"{batch}_{size[0]}x{size[1]}" if size else batch
            expected = _run_keras(endpoint, inputs)
            if reloaded is not None:
                record("keras", endpoint.name, case, _max_diff(expected, _run_keras(reloaded[endpoint.name], inputs)))
            if saved is not None:
                got = saved.signatures[endpoint.name](**{k: tf.constant(v) for k, v in inputs.items()})
                record("saved_model", endpoint.name, case, _max_diff(expected, got))
            if endpoint.onnx and "onnx" in formats:
                if endpoint.onnx not in sessions:
                    try:
                        sessions[endpoint.onnx] = ort.InferenceSession(str(folder / f"{endpoint.onnx}.onnx"),
                                                                       providers=["CPUExecutionProvider"])
                    except Exception as exc:  # an op tf2onnx left unconverted, an invalid graph
                        raise ExportError(f"{endpoint.onnx}.onnx (endpoint {endpoint.name}) does not load in "
                                          f"onnxruntime: {str(exc).splitlines()[0][:300]}") from None
                session = sessions[endpoint.onnx]
                names = [o.name for o in session.get_outputs()]
                record("onnx", f"{endpoint.onnx}.onnx", case, _max_diff(expected, dict(zip(names, session.run(names, inputs)))))
    return report


def _parameter_counts(model) -> dict:
    counts = {"total": int(sum(np.prod(v.shape) for v in model.weights))}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            counts[layer.name] = int(sum(np.prod(v.shape) for v in layer.weights))
    return counts


def export_model(model, recipe: Recipe, out_dir, *, data_dir=None, run_state: dict | None = None,
                 variant_fid=None) -> Path:
    """Write the artifact for ``model`` trained by ``recipe`` to ``out_dir``, atomically; return its path.

    With the onnx format, the recipe's ``export.variants`` (float16, int8) of every ONNX file are written beside it
    and measured (:mod:`zoo.artifact.variants`); with ``export.variant_fid_samples`` above 0, their FID too, by
    ``variant_fid(n)``, a scorer factory from a higher layer (:func:`zoo.eval.variants.fid_scorer`).
    """
    out_dir = Path(out_dir)
    tmp = temporary_folder(out_dir)
    try:
        _write_artifact(model, recipe, tmp, data_dir=data_dir, run_state=run_state or {})
        if "onnx" in recipe.export.formats and recipe.export.variants:
            n = recipe.export.variant_fid_samples
            build_variants(tmp, kinds=recipe.export.variants, fid=variant_fid(n) if variant_fid and n else None)
        replace_folder(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_artifact(model, recipe: Recipe, folder: Path, *, data_dir, run_state: dict) -> None:
    formats = recipe.export.formats
    f32 = float32_copy(model)
    endpoints = f32.endpoints()

    example_images, example_labels = data.example_batch(recipe.data, recipe.export.num_examples, data_dir=data_dir)
    example_inputs = f32.example_inputs(example_images, example_labels)
    examples = dict(example_inputs)
    example_keys = {}
    for endpoint in endpoints:
        outputs = _run_keras(endpoint, example_inputs)
        example_keys[endpoint.name] = {"inputs": [i.name for i in endpoint.inputs],
                                       "outputs": {name: f"{endpoint.name}.{name}" for name in outputs}}
        examples.update({f"{endpoint.name}.{name}": value for name, value in outputs.items()})
    np.savez(folder / "examples.npz", **examples)

    if "keras" in formats:
        kept = f32 if recipe.export.optimizer_state else float32_copy(f32, optimizer_state=False)
        kept.save(folder / "model.keras")
    if "saved_model" in formats:
        _export_saved_model(endpoints, folder / "saved_model")
    onnx_files = {}
    if "onnx" in formats:
        for endpoint in endpoints:
            if endpoint.onnx and endpoint.onnx not in onnx_files:
                _export_onnx(endpoint, folder / f"{endpoint.onnx}.onnx", recipe.export.opset)
                onnx_files[endpoint.onnx] = endpoint.name

    parity = _parity(f32, endpoints, folder, formats)
    worst = max((v for fmt in parity.values() for ep in fmt.values() for v in ep.values()), default=0.0)
    if worst > recipe.export.tolerance:
        bad = [f"{fmt} {name} {batch}: {v:.2e}" for fmt, eps in parity.items() for name, ep in eps.items()
               for batch, v in ep.items() if v > recipe.export.tolerance]
        raise ExportError(f"export disagrees with Keras beyond tolerance {recipe.export.tolerance:g}: {'; '.join(bad)}")

    preview_name = model.preview_file
    shown = f32.preview(example_images[:8], None if example_labels is None else example_labels[:8])
    images.save_png(images.grid(shown, recipe.data.value_range, ncols=model.preview_columns), folder / preview_name,
                    scale=2)

    extra_files = f32.artifact_files()
    for name, content in extra_files.items():  # listed in metadata and covered by its checksums like every file
        (folder / name).write_bytes(content)
    recipe.write(folder / "recipe.toml")
    (folder / "config.json").write_text(json.dumps(keras.saving.serialize_keras_object(f32), indent=2))

    train_source = data.describe(recipe.data, recipe.data.split, data_dir=data_dir)
    metadata = {
        "name": recipe.name,
        "family": recipe.family,
        "class_name": type(model).__name__,
        "description": recipe.description,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dataset": {"name": recipe.data.dataset, "file": recipe.data.file, "train": train_source,
                    "split": recipe.data.split, "eval_split": recipe.data.eval_split,
                    "classes": list(recipe.data.classes)},
        "recipe": recipe.to_dict(),
        "training": {"precision": run_state.get("precision", model.dtype_policy.name),
                     "epochs": run_state.get("epoch", 0), "steps_per_epoch": run_state.get("steps_per_epoch"),
                     "train_seconds": round(run_state.get("train_seconds", 0.0), 1),
                     "final": (run_state.get("history") or [{}])[-1], "hardware": runtime.hardware()},
        "versions": runtime.versions(),
        "parameters": _parameter_counts(f32),
        "preview": preview_name,
        "endpoints": [{"name": e.name, "description": e.description, "onnx": f"{e.onnx}.onnx" if e.onnx and onnx_files else None,
                       "inputs": [i.to_json() for i in e.inputs], "outputs": [o.to_json() for o in e.outputs]}
                      for e in endpoints],
        "examples": {"file": "examples.npz", "count": int(len(example_images)), "keys": example_keys},
        "parity": {"reference": "float32 Keras model", "batches": list(PARITY_BATCHES), "tolerance": recipe.export.tolerance,
                   "max_abs_diff": worst, "by_format": parity},
        "onnx_opset": recipe.export.opset if onnx_files else None,
        "extra_files": sorted(extra_files),
        **runtime_description(type(model), f32.num_classes, recipe.data.dataset, recipe.data.classes),
    }
    (folder / card.CARD).write_text(card.from_metadata(metadata))
    metadata["files"] = file_checksums(folder)
    (folder / METADATA).write_text(json.dumps(metadata, indent=2))
