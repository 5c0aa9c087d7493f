"""Model cards: the ``README.md`` of an exported artifact, rendered from its metadata.json and metrics.json.

A card says what the model is, what goes in and what comes out, which data trained it under which licence,
how it was trained, how it scores beside the real-versus-real floor, and what it cannot do (the sections
of Mitchell et al. 2019, "Model Cards for Model Reporting"). Cards are generated, not hand-edited: export
and ``zoo eval`` rewrite them, and ``zoo card NAME`` does so on demand.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from zoo.evaluation import report_figures, report_table

CARD = "README.md"

# What the zoo knows about the public datasets its recipes name: title, source, licence, and a note on the
# local copies in ../shared/data that the shipped models were trained on.
DATASETS = {
    "fashion_mnist": {
        "title": "Fashion-MNIST",
        "source": "Zalando Research (Xiao, Rasul & Vollgraf 2017), https://github.com/zalandoresearch/fashion-mnist",
        "licence": "MIT",
        "local": "`fashion_mnist.npz` takes the first 6,000 images of each class as training data and the last "
                 "1,000 as test data: the official split's sizes, not necessarily its images.",
    },
    "mnist": {
        "title": "MNIST",
        "source": "LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/",
        "licence": "CC BY-SA 3.0",
        "local": "`mnist10k.npz` is a 10,000-digit subset of MNIST: 9,000 training and 1,000 test digits "
                 "(100 per class), so likelihoods are not those of models trained on all 60,000 digits.",
    },
}
PROJECT_LICENCE = "Apache-2.0"


def _family_class(family: str):
    from zoo.models import families

    return families().get(family)


def _summary(meta: dict) -> str:
    """The family's one-line description with its paper: the first line of its module's docstring."""
    cls = _family_class(meta.get("family", ""))
    doc = inspect.getmodule(cls).__doc__ if cls else ""
    return (doc or "").strip().splitlines()[0] if doc else meta.get("family", "")


def _number(value, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}g}"


def _grey_level_bernoulli(recipe: dict) -> bool:
    """A Bernoulli likelihood on grey levels (no binarization): its "NLL" is a cross-entropy, not a density."""
    model = recipe.get("model", {})
    return model.get("likelihood") == "bernoulli" and not model.get("binarize")


def key_metrics(meta: dict) -> list[str]:
    """The one or two figures that say how good a model is, for `zoo list` and the README's table."""
    metrics = meta.get("metrics") or {}
    n = (meta.get("evaluation") or {}).get("num_samples")
    out = []
    if "test_accuracy" in metrics:
        out.append(f"accuracy {100 * metrics['test_accuracy']:.2f}%")
    fids = [k for k in metrics if k.startswith("fid") and not k.startswith("fid_floor")]
    preferred = [k for k in ("fid", "fid_reconstructions", "fid_ddim_50", "fid_a2b", "fid_b2a") if k in fids]
    for key in (preferred or fids)[:2]:
        floor = metrics.get("fid_floor", metrics.get(f"fid_floor_{key[-1]}" if key in ("fid_a2b", "fid_b2a") else ""))
        label = "FID" if key == "fid" else f"FID {key[4:].replace('_', ' ')}"
        value = metrics[key]
        shown = f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"
        out.append(f"{label} {shown}" + (f" (floor {floor:.2g}, n = {n:,})" if floor is not None and n else ""))
    if "iwae_nll_nats" in metrics:
        out.append(f"NLL {metrics['iwae_nll_nats']:.2f} nats"
                   + (" (grey-level cross-entropy)" if _grey_level_bernoulli(meta.get("recipe", {})) else ""))
    if "label_accuracy" in metrics:
        out.append(f"label accuracy {100 * metrics['label_accuracy']:.1f}%")
    if not out:
        final = (meta.get("training") or {}).get("final") or {}
        if "val_loss" in final:
            out.append(f"val_loss {final['val_loss']:.4g} (not evaluated: run `zoo eval`)")
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    escape = [[str(c).replace("|", "\\|") for c in row] for row in [header] + rows]
    return ["| " + " | ".join(escape[0]) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(row) + " |" for row in escape[1:]]


def _io_section(meta: dict) -> list[str]:
    lines = []
    for endpoint in meta.get("endpoints", []):
        where = f"SavedModel signature `{endpoint['name']}`" + (f", ONNX `{endpoint['onnx']}`" if endpoint.get("onnx") else "")
        lines += ["", f"**`{endpoint['name']}`**: {endpoint.get('description', '')} ({where})", ""]
        rows = []
        for role, tensors in (("input", endpoint["inputs"]), ("output", endpoint["outputs"])):
            for t in tensors:
                dims = ["N" if d is None and i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(t["shape"])]
                shape = f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"
                note = t.get("description", "")
                if t.get("postprocess"):
                    note += f"; to pixels: `{t['postprocess']}`"
                rows.append([role, f"`{t['name']}`", shape, t["dtype"], note])
        lines += _table(["", "name", "shape", "dtype", "meaning"], rows)
    return lines


def _data_section(meta: dict, recipe: dict) -> list[str]:
    d = recipe.get("data", {})
    dataset = meta.get("dataset", {})
    known = DATASETS.get(dataset.get("name", ""), {})
    lines = [f"- Dataset: {known.get('title', dataset.get('name', '?'))}"
             + (f", {known['source']}" if known else "")]
    if d.get("domain_a") and (d["domain_a"].get("classes") or d["domain_a"].get("file")):
        for key in ("domain_a", "domain_b"):
            dom = d[key]
            what = f"classes {list(dom['classes'])}" if dom.get("classes") else f"`{dom.get('file')}`"
            lines.append(f"- {key.replace('_', ' ').capitalize()}: {what}")
    lines.append(f"- Trained on: {dataset.get('train', '?')}; evaluated on the `{dataset.get('eval_split', '?')}` split")
    if dataset.get("classes"):
        lines.append(f"- Classes kept: {dataset['classes']}")
    prep = (f"- Preprocessing: images resized ({d.get('resize', 'bilinear')}) to {d.get('image_size')} with "
            f"{d.get('channels')} channel(s), scaled to {d.get('value_range')}")
    if d.get("load_size"):
        prep += f"; training augmentation: resize to {d['load_size']} and crop back at random"
    if d.get("random_flip"):
        prep += ", random horizontal flips"
    if recipe.get("model", {}).get("binarize"):
        prep += "; pixels binarized afresh each batch (dynamic binarization)"
    elif _grey_level_bernoulli(recipe):
        prep += ("; grey levels kept, scored by the Bernoulli cross-entropy, so likelihoods (NLL) are "
                 "cross-entropies, not densities of grey levels")
    lines.append(prep)
    if known.get("local") and ".npz" in str(dataset.get("train", "")):
        lines.append(f"- The local copy: {known['local']}")
    return lines


def _training_section(meta: dict, recipe: dict) -> list[str]:
    training = meta.get("training", {})
    train = recipe.get("train", {})
    hardware = training.get("hardware", {})
    gpus = hardware.get("gpus", 0)
    device = f"{hardware.get('cpu_count', '?')}-core {hardware.get('machine', '')} CPU" + (f", {gpus} GPU(s)" if gpus else "")
    optimizers = recipe.get("optimizer", {})
    if "name" not in optimizers:  # one table per role
        opt = "; ".join(f"{role}: {o.get('name')} {o.get('learning_rate')}" for role, o in optimizers.items())
    else:
        opt = f"{optimizers.get('name')} {optimizers.get('learning_rate')}"
    lines = [
        "- Recipe: [`recipe.toml`](recipe.toml), the whole truth of the run",
        f"- {training.get('epochs')} epochs of {training.get('steps_per_epoch')} steps, batch {train.get('batch_size')}, "
        f"{training.get('precision')}, seed {train.get('seed')}; optimizer {opt}",
        f"- Wall time: {training.get('train_seconds', 0):,.0f} s on a {device} ({hardware.get('system', '')})",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
    ]
    final = training.get("final") or {}
    if final:
        lines.append("- Last epoch: " + ", ".join(f"{k} {_number(v)}" for k, v in final.items()))
    curve = meta.get("training_curve") or []
    if curve:
        keys = [k for k in curve[0] if k not in ("epochs", "train_seconds", "num_samples")]
        lines += ["", f"Figures against training time (`zoo eval` of exports of this run at n = {curve[0]['num_samples']:,}):", ""]
        lines += _table(["epochs", "train s", *keys],
                        [[str(row["epochs"]), f"{row['train_seconds']:,.0f}", *[_number(row.get(k, "")) for k in keys]]
                         for row in curve])
    lines += ["", "Reproduce (the data file in `--data-dir`, or tensorflow-datasets by name with internet):", "",
              "```bash", f"zoo train exported/{meta['name']}/recipe.toml --data-dir ../shared/data", "```"]
    return lines


def _evaluation_section(meta: dict, report: dict | None) -> list[str]:
    if not report:
        return [f"Not evaluated yet: `zoo eval {meta['name']}` measures it and rewrites this card."]
    features = report.get("features", {})
    lines = [f"`zoo eval` on {report['num_samples']:,} images per set ({report.get('created', '')}, seed "
             f"{report.get('seed', 0)}), against {report.get('reference', '')}."]
    if features:
        lines.append(f"Features: {features.get('description', features.get('network'))}; FID and KID from these features "
                     "are not comparable with published Inception-based figures, and depend on the sample count: "
                     "compare a model with the real-versus-real floor on the same count.")
    header, rows = report_table(report)
    if rows:
        lines += [""] + _table(header, rows)
    for section, values in report_figures(report).items():
        lines += ["", f"{section.capitalize()}: " + ", ".join(f"{k} {_number(v, 6)}" for k, v in values.items())]
    lines += ["", *[f"Note: {note}" for note in report.get("notes", [])]]
    return lines


def _parity_section(meta: dict) -> list[str]:
    parity = meta.get("parity") or {}
    rows = []
    for fmt, endpoints in (parity.get("by_format") or {}).items():
        worst = max((v for ep in endpoints.values() for v in ep.values()), default=0.0)
        rows.append([fmt, ", ".join(endpoints), f"{worst:.2e}"])
    return [f"Largest absolute difference from the float32 Keras model on the same random inputs "
            f"(batches {parity.get('batches')}; tolerance {parity.get('tolerance')}):", ""] + \
        _table(["format", "checked", "max abs diff"], rows)


def _limitations(meta: dict, recipe: dict) -> list[str]:
    cls = _family_class(meta.get("family", ""))
    d = recipe.get("data", {})
    items = list(getattr(cls, "limitations", ()) if cls else ())
    size = "x".join(str(s) for s in d.get("image_size", ()))
    colour = "greyscale" if d.get("channels") == 1 else "RGB"
    items.append(f"It has only seen {size} {colour} images of its training data; other sizes, colours or kinds of "
                 "image are outside what it learned, and it does not say so.")
    items.append("Samples are reproducible from a seed on the same TensorFlow version and device; other "
                 "versions or hardware may change the last digits.")
    return [f"- {item}" for item in items]


def _licence(meta: dict) -> list[str]:
    known = DATASETS.get(meta.get("dataset", {}).get("name", ""), {})
    data = (f"{known['title']}, {known['licence']}" if known
            else "your own data: its licence applies to what the model learned from it")
    return [f"- Training data: {data}.",
            f"- Code and weights: {PROJECT_LICENCE}, the project's licence; the data's terms still apply to "
            "redistributing what the model generates from it."]


def _usage(meta: dict) -> list[str]:
    """How to call the model in Python and from the command line, by what its family can do."""
    cls = _family_class(meta.get("family", ""))
    name = meta["name"]
    python = ["import zoo", "", f'model = zoo.load("{name}")  # keras.models.load_model(".../model.keras") after import zoo']
    shell = [f"zoo info {name}"]
    conditional = bool(meta.get("recipe", {}).get("data", {}).get("labels")) and meta.get("family") != "classifier"
    if hasattr(cls, "translate"):
        python.append('translated = model.translate(images_a, direction="a2b")  # "b2a" for the way back')
        shell.append(f"zoo translate {name} my_images/ --direction a2b -o translated/")
    elif hasattr(cls, "sample"):
        if conditional:
            python.append("labels = [3] * 16  # class ids")
        python.append("images = model.sample(16, seed=0" + (", labels=labels)" if conditional else ")"))
        shell.append(f"zoo sample {name} -n 64 -o samples.png" + (" --label 3" if conditional else ""))
    if hasattr(cls, "reconstruct"):
        python.append("rebuilt = model.reconstruct(images" + (", labels)" if conditional else ")"))
        shell.append(f"zoo reconstruct {name} -o reconstructions.png")
    if meta.get("family") == "classifier":
        python.append("probabilities = model.predict_proba(images)  # (N, classes); model.features(images) for FID")
    return ["```python", *python, "```", "", "```bash", *shell, "```"]


def render(folder) -> str:
    """The model card of the artifact in ``folder``, from its metadata.json and metrics.json."""
    from zoo.artifacts import read_metadata  # see catalog()

    metrics = Path(folder) / "metrics.json"
    return from_metadata(read_metadata(folder), json.loads(metrics.read_text()) if metrics.is_file() else None)


def from_metadata(meta: dict, report: dict | None = None) -> str:
    """The model card of an artifact with metadata ``meta`` and ``zoo eval`` report ``report`` (None before one)."""
    recipe = meta.get("recipe", {})
    params = meta.get("parameters", {})
    parts = ", ".join(f"{k} {v:,}" for k, v in params.items() if k != "total")
    name = meta["name"]
    lines = [f"# {name}", "", meta.get("description", ""), "",
             f"{_summary(meta)}", "",
             f"- Family: `{meta.get('family')}` (`zoo.models.{meta.get('class_name')}`); {params.get('total', 0):,} "
             f"parameters" + (f" ({parts})" if parts else ""),
             f"- Key figures: {'; '.join(key_metrics(meta)) or 'not evaluated'}",
             "- Files: `model.keras` (Keras 3), `saved_model/` (TF Serving signatures), "
             + ", ".join(f"`{e['onnx']}`" for e in meta.get("endpoints", []) if e.get("onnx"))
             + ", `examples.npz` (test vectors), `metadata.json` (sha256 of every file)"
             + (", `metrics.json` (`zoo eval`'s report)" if report else ""),
             "", f"![{meta.get('preview', '')}]({meta.get('preview', '')})", "",
             "## Use", "", *_usage(meta), "",
             "## Inputs and outputs", *_io_section(meta), "",
             "## Data", "", *_data_section(meta, recipe), "",
             "## Training", "", *_training_section(meta, recipe), "",
             "## Evaluation", "", *_evaluation_section(meta, report), "",
             "## Export parity", "", *_parity_section(meta), "",
             "## Limitations", "", *_limitations(meta, recipe), "",
             "## Licence", "", *_licence(meta), ""]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def write(name_or_path) -> Path:
    """(Re)write an artifact's README.md and record its sha256 in metadata.json."""
    from zoo.artifacts import resolve, update_artifact

    folder = resolve(name_or_path)
    return update_artifact(folder, {CARD: render(folder)}, {}) / CARD


def catalog(folders: dict) -> list[str]:
    """The README's model table: one markdown row per artifact ({name: folder}), with a thumbnail of its preview."""
    from zoo.artifacts import read_metadata  # here, not at the top: zoo.artifacts imports zoo.export, which imports us

    rows = []
    for name, folder in folders.items():
        meta = read_metadata(folder)
        known = DATASETS.get(meta.get("dataset", {}).get("name", ""), {})
        classes = meta.get("dataset", {}).get("classes") or []
        domains = [meta.get("recipe", {}).get("data", {}).get(key, {}).get("classes") for key in ("domain_a", "domain_b")]
        training = meta.get("training", {})
        preview = f"exported/{name}/{meta.get('preview', '')}"
        rows.append([f"[`{name}`](exported/{name}/README.md)", meta.get("family", "?"),
                     known.get("title", meta.get("dataset", {}).get("name", "?")) + (f" (classes {classes})" if classes else "")
                     + (f" (classes {domains[0]} and {domains[1]})" if all(domains) else ""),
                     f"{meta.get('parameters', {}).get('total', 0):,}", "; ".join(key_metrics(meta)) or "-",
                     f"{training.get('epochs')} epochs, {training.get('train_seconds', 0):,.0f} s",
                     f'<img src="{preview}" width="120">'])
    return _table(["model", "family", "data", "parameters", "key figures", "trained", "preview"], rows)
