"""Smaller, faster copies of an artifact's ONNX files: float16 and dynamically quantized int8.

For each ONNX file the endpoints list (``endpoints[i]["onnx"]`` in metadata.json) an artifact may hold::

    <stem>.fp16.onnx   float16 weights and arithmetic (onnxconverter-common), with float32 / int32 inputs and
                       outputs as before
    <stem>.int8.onnx   dynamic int8 quantization (onnxruntime.quantization.quantize_dynamic): int8 weights for the
                       operators it quantizes (Conv, MatMul, ...), their activations quantized at run time; the
                       other operators (e.g. ConvTranspose) stay float32

with the float32 file's input and output names, shapes and dtypes, so a runtime swaps one for the other. Each
variant is run in onnxruntime on the artifact's example inputs (examples.npz) and compared with the float32 outputs
stored there, and its onnxruntime latency at batch 1 and 64 is measured beside the float32 file's, the files taking
turns so that both see the same load. A variant that cannot be built, does not run in onnxruntime, or gives NaN or
infinite outputs is left out and recorded as skipped with the reason.

``metadata.json``'s ``variants`` records it all, and each variant's FID beside float32's when the caller passes a
scorer (:mod:`zoo.eval.variants`; this layer does not evaluate). The files are written atomically and their sha256
recorded like every other file's (:func:`zoo.artifact.store.update_artifact`).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from zoo import runtime
from zoo.artifact import card
from zoo.artifact.store import load_examples, read_metadata, resolve, update_artifact
from zoo.errors import ZooError

KINDS = ("fp16", "int8")
LATENCY_BATCHES = (1, 64)
LATENCY_RUNS = {1: 21, 64: 7}  # timed runs per batch size, after WARMUP untimed ones; the median is kept
WARMUP = 2
INT8_WEIGHT_TYPES = ("QInt8", "QUInt8")  # both run on onnxruntime's CPU; the one closer to float32 is kept
INTEGER_OPS = ("ConvInteger", "MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear", "QAttention",
               "DynamicQuantizeLSTM", "QGemm", "QLinearMatMul", "QLinearConv")
METHODS = {
    "fp16": "onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True): float16 weights and "
            "arithmetic, float32 inputs and outputs",
    "int8": "onnxruntime.quantization.quantize_dynamic: int8 weights for the operators it quantizes, activations "
            "quantized at run time, the rest float32",
}


def variant_file(onnx_file: str, kind: str) -> str:
    """``generator.onnx`` -> ``generator.fp16.onnx``."""
    if kind not in KINDS:
        raise ZooError(f"unknown variant {kind!r}; the variants are {', '.join(KINDS)}")
    return f"{onnx_file.removesuffix('.onnx')}.{kind}.onnx"


def onnx_endpoints(meta: dict) -> dict[str, dict]:
    """Each ONNX file of an artifact and the first endpoint that runs it."""
    found = {}
    for endpoint in meta.get("endpoints", []):
        if endpoint.get("onnx") and endpoint["onnx"] not in found:
            found[endpoint["onnx"]] = endpoint
    return found


# ---------------------------------------------------------------- building


def _reason(exc: BaseException, *where) -> str:
    """One line saying why, without this machine's paths (metadata.json ships)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    for path in where:
        text = text.replace(f"{path}/", "").replace(str(path), "")
    return f"{type(exc).__name__}: {text}"[:300]


@contextlib.contextmanager
def _quiet():
    """The converters' warnings (float16 truncation, "consider pre-processing") are expected: keep them out of the output."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _separate_consumed_outputs(model):
    """Give every graph output that other nodes also read its own Identity node.

    With ``keep_io_types`` the float16 converter casts a graph output back to float32 under its own name, but the
    nodes that read that tensor inside the graph are left reading the float32 copy (a classifier's ``features``
    feed its logits): onnxruntime then refuses the graph. Reading an inner tensor instead avoids that.
    """
    from onnx import helper

    graph = model.graph
    consumed = {name for node in graph.node for name in node.input}
    for output in graph.output:
        if output.name not in consumed:
            continue
        inner = f"{output.name}__inner"
        for node in graph.node:
            node.output[:] = [inner if name == output.name else name for name in node.output]
            node.input[:] = [inner if name == output.name else name for name in node.input]
        graph.node.append(helper.make_node("Identity", [inner], [output.name], name=f"{output.name}__output"))
    return model


def _cast_to_float16(model):
    """Point the Cast nodes whose outputs became float16 at float16 (the converter retypes the tensor, not the
    ``to`` attribute: a diffusion model's timestep cast would otherwise break the graph)."""
    from onnx import TensorProto

    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*graph.value_info, *graph.output)}
    for node in graph.node:
        if node.op_type == "Cast" and types.get(node.output[0]) == TensorProto.FLOAT16:
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.FLOAT16
    return model


def to_float16(source: Path, target: Path) -> dict:
    import onnx
    from onnxconverter_common import float16

    with _quiet():
        model = float16.convert_float_to_float16(_separate_consumed_outputs(onnx.load(str(source))),
                                                 keep_io_types=True)
    onnx.save(_cast_to_float16(model), str(target))
    return {"method": METHODS["fp16"]}


def quantized_ops(path: Path) -> dict[str, int]:
    """How many nodes of each integer operator a quantized file runs."""
    import onnx

    counts = {}
    for node in onnx.load(str(path)).graph.node:
        if node.op_type in INTEGER_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def to_int8(source: Path, target: Path, inputs: dict, expected: dict) -> dict:
    """Dynamic quantization with the weight type (of :data:`INT8_WEIGHT_TYPES`) whose outputs on the examples are
    closer to float32's; an error when neither runs."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    best, failures = None, []
    for weight_type in INT8_WEIGHT_TYPES:
        candidate = target.with_name(f"{target.stem}.{weight_type}.onnx")
        try:
            with _quiet():
                quantize_dynamic(str(source), str(candidate), weight_type=getattr(QuantType, weight_type))
            diff = _max_diff(run(session(candidate), inputs), expected)
        except Exception as exc:  # an operator onnxruntime has no integer kernel for, a graph it refuses
            failures.append(f"{weight_type}: {_reason(exc, candidate.parent)}")
            continue
        if best is None or diff < best[1]:
            best = (candidate, diff, weight_type)
    if best is None:
        raise ZooError("; ".join(failures))
    ops = quantized_ops(best[0])
    if not ops:
        raise ZooError("dynamic quantization found no operator it quantizes (such as Conv or MatMul) in this graph")
    best[0].replace(target)
    return {"method": METHODS["int8"], "weight_type": best[2], "quantized_ops": ops}


# ---------------------------------------------------------------- running


def session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the graph optimizer's notes are not for the user
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, inputs: dict) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {i.name: inputs[i.name] for i in sess.get_inputs()})))


def _max_diff(got: dict, expected: dict) -> float:
    missing = sorted(set(expected) - set(got))
    if missing:
        raise ZooError(f"the variant has no output {', '.join(missing)}")
    for name, value in got.items():
        if not np.all(np.isfinite(value)):
            raise ZooError(f"the variant's {name} holds NaN or infinite values on the examples")
    return max(float(np.max(np.abs(np.asarray(got[k], "float32") - np.asarray(v, "float32")))) for k, v in expected.items())


def _batch(inputs: dict, n: int) -> dict:
    """The example inputs repeated (or cut) to ``n`` rows."""
    return {name: np.resize(value, (n, *value.shape[1:])).astype(value.dtype) for name, value in inputs.items()}


def latencies(paths: dict[str, Path], inputs: dict) -> dict[str, dict[str, float]]:
    """Median onnxruntime latency in ms of each file at each of :data:`LATENCY_BATCHES`, the files taking turns."""
    sessions = {label: session(path) for label, path in paths.items()}
    out = {label: {} for label in paths}
    for batch in LATENCY_BATCHES:
        feeds = _batch(inputs, batch)
        for sess in sessions.values():
            for _ in range(WARMUP):
                run(sess, feeds)
        times = {label: [] for label in paths}
        for _ in range(LATENCY_RUNS[batch]):
            for label, sess in sessions.items():
                start = time.perf_counter()
                run(sess, feeds)
                times[label].append(1000 * (time.perf_counter() - start))
        for label in paths:
            out[label][f"batch_{batch}"] = round(float(np.median(times[label])), 3)
    return out


def _examples(folder: Path, meta: dict, endpoint: dict) -> tuple[dict, dict]:
    """The endpoint's example inputs and the float32 outputs examples.npz stores for them."""
    examples = load_examples(folder)
    keys = (meta.get("examples") or {}).get("keys", {}).get(endpoint["name"])
    if not keys:
        raise ZooError(f"{folder / 'metadata.json'} lists no examples for endpoint {endpoint['name']}; re-export the model")
    return ({name: examples[name] for name in keys["inputs"]},
            {name: examples[key] for name, key in keys["outputs"].items()})


# ---------------------------------------------------------------- the artifact


def build_variants(name_or_path, *, kinds=KINDS, fid=None, log=None) -> dict:
    """Write the ``kinds`` of variant of every ONNX file of an artifact, measure them, and record them in its
    metadata.json (``variants``) and card; return that record.

    ``fid``, when given, is called as ``fid(folder, meta, onnx_file, {"float32": path, kind: path, ...})`` and
    returns ``{"n", "inputs", "reference", "features", "scores": {label: FID}}``, or ``{"not_applicable": why}``;
    a :class:`~zoo.errors.ZooError` it raises is recorded as the reason the FID is missing.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ZooError(f"unknown variant(s) {', '.join(unknown)}; the variants are {', '.join(KINDS)}")
    folder = resolve(name_or_path)
    meta = read_metadata(folder)
    files = onnx_endpoints(meta)
    if not files:
        raise ZooError(f"{folder} has no ONNX files to make variants of (exported without the onnx format)")
    say = log or (lambda text: None)
    written, record = {}, {}
    stale = [variant_file(f, k) for f in files for k in KINDS if variant_file(f, k) in meta.get("files", {})]
    with tempfile.TemporaryDirectory(prefix="zoo-variants-") as scratch:
        scratch = Path(scratch)
        for onnx_file, endpoint in files.items():
            source = folder / onnx_file
            inputs, expected = _examples(folder, meta, endpoint)
            entry = {"float32": {"file": onnx_file, "bytes": source.stat().st_size}}
            built = {"float32": source}
            for kind in kinds:
                name = variant_file(onnx_file, kind)
                target = scratch / name
                try:
                    info = to_int8(source, target, inputs, expected) if kind == "int8" else to_float16(source, target)
                    diff = _max_diff(run(session(target), inputs), expected)
                except Exception as exc:  # converter bugs, unsupported operators, graphs onnxruntime refuses
                    entry[kind] = {"skipped": exc.args[0] if isinstance(exc, ZooError) else _reason(exc, scratch, folder)}
                    say(f"{onnx_file}: no {kind} variant: {entry[kind]['skipped']}")
                    continue
                entry[kind] = {"file": name, "bytes": target.stat().st_size, "max_abs_diff": diff, **info}
                built[kind] = target
                say(f"{onnx_file}: {name}, {target.stat().st_size:,} bytes, max abs diff {diff:.2e}")
            timed = latencies(built, inputs)
            entry["float32"]["latency_ms"] = timed["float32"]
            for kind in built:
                if kind != "float32":
                    entry[kind]["latency_ms"] = timed[kind]
                    entry[kind]["latency_ms_float32"] = timed["float32"]
            entry["fid"] = _score(fid, folder, meta, onnx_file, built, say)
            scores = entry["fid"].get("scores", {})
            for kind in built:
                if kind != "float32" and kind in scores:
                    entry[kind].update(fid=scores[kind], fid_float32=scores["float32"], fid_n=entry["fid"]["n"])
            written.update({entry[kind]["file"]: built[kind].read_bytes() for kind in built if kind != "float32"})
            record[onnx_file] = entry
        section = {
            "kinds": list(kinds),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "max_abs_diff": "largest absolute difference from the float32 outputs stored in examples.npz, on its inputs",
            "latency": {"statistic": "median ms per run", "warmup": WARMUP,
                        "runs": {f"batch_{b}": LATENCY_RUNS[b] for b in LATENCY_BATCHES},
                        "inputs": "the example inputs repeated to the batch size",
                        "runtime": f"onnxruntime {_ort_version()}, CPUExecutionProvider, default threads",
                        "hardware": runtime.hardware()},
            "files": record,
        }
        update_artifact(folder, written, {"variants": section}, remove=[f for f in stale if f not in written])
    card.write(folder)
    return section


def _score(fid, folder, meta, onnx_file, built, say) -> dict:
    if fid is None:
        return {"not_measured": f"`zoo variants {meta.get('name', folder.name)} --data-dir DIR` measures it"}
    try:
        result = fid(folder, meta, onnx_file, dict(built))
    except ZooError as exc:
        say(f"{onnx_file}: no FID: {exc}")
        return {"skipped": str(exc)}
    if "scores" in result:
        say(f"{onnx_file}: FID at n = {result['n']:,}: "
            + ", ".join(f"{label} {value:.4g}" for label, value in result["scores"].items()))
    return result


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__
