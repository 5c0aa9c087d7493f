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

from zoo import catalogue
from zoo.artifact.figures import (debias_table, ground_truth_table, grey_level_bernoulli, key_metrics, markdown_table,
                                  number, report_figures, report_table)
from zoo.artifact.store import read_metadata, resolve, update_artifact
from zoo.models import Capability, families

CARD = "README.md"


def _family_class(family: str):
    return families().get(family)


def _summary(meta: dict) -> str:
    """The family's one-line description with its paper: the first line of its module's docstring."""
    cls = _family_class(meta.get("family", ""))
    doc = inspect.getmodule(cls).__doc__ if cls else ""
    return (doc or "").strip().splitlines()[0] if doc else meta.get("family", "")


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
        lines += markdown_table(["", "name", "shape", "dtype", "meaning"], rows)
    return lines


def _data_section(meta: dict, recipe: dict) -> list[str]:
    d = recipe.get("data", {})
    dataset = meta.get("dataset", {})
    known = catalogue.dataset(dataset.get("name", ""))
    lines = [f"- Dataset: {known.title}, {known.source}" if known else f"- Dataset: {dataset.get('name', '?')}"]
    def design(name):
        chosen = known.design(name) if known else None
        return f"the {chosen.title} design" if chosen else f"design `{name}`"

    if d.get("domain_a") and any(d["domain_a"].get(k) for k in ("classes", "file", "design")):
        for key in ("domain_a", "domain_b"):
            dom = d[key]
            what = (f"classes {list(dom['classes'])}" if dom.get("classes") else f"`{dom['file']}`" if dom.get("file")
                    else design(dom["design"]))
            lines.append(f"- {key.replace('_', ' ').capitalize()}: {what}")
    elif d.get("design"):
        lines.append(f"- Drawn in {design(d['design'])}")
    lines.append(f"- Trained on: {dataset.get('train', '?')}; evaluated on the `{dataset.get('eval_split', '?')}` split")
    if dataset.get("classes"):
        lines.append(f"- Classes kept: {dataset['classes']}")
    named = known and known.class_names != tuple(str(i) for i in range(known.num_classes))  # not MNIST's digits
    if named and (d.get("labels") or dataset.get("classes") or d.get("domain_a", {}).get("classes")):
        lines.append("- Class labels: " + ", ".join(f"{i} {name}" for i, name in enumerate(known.class_names)))
    prep = (f"- Preprocessing: images resized ({d.get('resize', 'bilinear')}) to {d.get('image_size')} with "
            f"{d.get('channels')} channel(s), scaled to {d.get('value_range')}")
    if d.get("load_size"):
        prep += f"; training augmentation: resize to {d['load_size']} and crop back at random"
    if d.get("crop_padding"):
        prep += f"; training augmentation: pad {d['crop_padding']} pixels a side (reflected) and crop back at random"
    if d.get("random_flip"):
        prep += ", random horizontal flips"
    if d.get("perturb_rate"):
        prep += (f"; training inputs perturbed: each pixel replaced by a uniform random grey level with probability "
                 f"{d['perturb_rate']:g} (a background model for the likelihood ratio of Ren et al. 2019)")
    if recipe.get("model", {}).get("binarize"):
        prep += "; pixels binarized afresh each batch (dynamic binarization)"
    elif grey_level_bernoulli(recipe):
        prep += ("; grey levels kept, scored by the Bernoulli cross-entropy, so likelihoods (NLL) are "
                 "cross-entropies, not densities of grey levels")
    lines.append(prep)
    train = str(dataset.get("train", ""))
    if known and known.local and (".npz" in train or known.local_name in train):  # a local copy, not tfds
        lines.append(f"- The local copy: {known.local}")
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
        lines.append("- Last epoch: " + ", ".join(f"{k} {number(v)}" for k, v in final.items()))
    curve = meta.get("training_curve") or []
    if curve:
        keys = [k for k in curve[0] if k not in ("epochs", "train_seconds", "num_samples")]
        lines += ["", f"Figures against training time (`zoo eval` of exports of this run at n = {curve[0]['num_samples']:,}):", ""]
        lines += markdown_table(["epochs", "train s", *keys],
                                [[str(row["epochs"]), f"{row['train_seconds']:,.0f}", *[number(row.get(k, "")) for k in keys]]
                                 for row in curve])
    held = "the .npz" if ".npz" in str(meta.get("dataset", {}).get("train", "")) else "the data file"
    lines += ["", "Reproduce (the data file in `--data-dir`, or tensorflow-datasets by name with internet):", "",
              "```bash", f"zoo train exported/{meta['name']}/recipe.toml --data-dir DIR  # DIR holds {held} named above",
              "```"]
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
        lines += [""] + markdown_table(header, rows)
    for section, values in report_figures(report).items():
        lines += ["", f"{section.capitalize()}: " + ", ".join(f"{k} {number(v, 6)}" for k, v in values.items())]
    if report.get("ground_truth"):
        lines += ["", "Each test translation against its true counterpart in the other design (the pairing is never "
                      "seen in training); L1 on the 0..1 pixel range, lower is closer; SSIM, higher is closer. The "
                      "untranslated input is the baseline a translation must beat:", "",
                  *markdown_table(*ground_truth_table(report))]
    lines += _latent_comparison(meta, report)
    lines += ["", *[f"Note: {note}" for note in report.get("notes", [])]]
    return lines


def _latent_comparison(meta: dict, report: dict) -> list[str]:
    """The total correlation of this model's aggregate posterior beside the other models of the zoo on the same data
    (artifacts next to this one whose metrics have it): lower is a less entangled code."""
    if "latent" not in report:
        return []
    here = meta.get("_folder")
    rows = []
    siblings = sorted(Path(here).parent.glob("*/metadata.json")) if here else []
    for path in siblings:
        other = json.loads(path.read_text())
        value = (other.get("metrics") or {}).get("total_correlation_nats")
        if value is not None and other.get("dataset", {}).get("name") == meta.get("dataset", {}).get("name"):
            beta = other.get("recipe", {}).get("model", {}).get("beta", 1.0)
            rows.append([f"`{other['name']}`" + (" (this model)" if other["name"] == meta["name"] else ""),
                         str(other.get("recipe", {}).get("model", {}).get("latent_dim", "")), number(beta, 3),
                         number(value, 4)])
    if len(rows) < 2:
        return []
    return ["", "Total correlation of the aggregate posterior, KL(q(z) || prod_j q(z_j)) in nats on "
                f"{report['latent']['num_images']:,} test images (Chen et al. 2018; lower: the code's dimensions are "
                "closer to independent over the data), beside the zoo's other models of this dataset:", "",
            *markdown_table(["model", "latent_dim", "beta", "total correlation"], rows)]


def _debias_section(meta: dict) -> list[str]:
    """The comparison of plain and debiased training (``benchmarks/debias.py``) that ``zoo debias-report NAME --from
    FILE --into-card`` recorded."""
    result = meta["debias"]
    smoke = f", {result['limit']:,} images a split (a smoke run, not a result)" if result.get("limit") else ""
    epochs = result["epochs"]
    return [f"Plain against debiased training of `{result['recipe']}` ({result.get('created', '')}): {epochs} "
            f"epoch{'' if epochs == 1 else 's'} a run, seeds {result['seeds']}{smoke}. Test accuracy in %, mean ± standard deviation over the seeds: "
            "overall, on the rare group (kept rare in training only) and on the worst of the groups (each positive "
            "class, the other negatives). `zoo debias-report` prints it.", "",
            *markdown_table(*debias_table(result))]


def _parity_section(meta: dict) -> list[str]:
    parity = meta.get("parity") or {}
    rows = []
    for fmt, endpoints in (parity.get("by_format") or {}).items():
        worst = max((v for ep in endpoints.values() for v in ep.values()), default=0.0)
        rows.append([fmt, ", ".join(endpoints), f"{worst:.2e}"])
    return [f"Largest absolute difference from the float32 Keras model on the same random inputs "
            f"(batches {parity.get('batches')}; tolerance {parity.get('tolerance')}):", ""] + \
        markdown_table(["format", "checked", "max abs diff"], rows)


def _size(count: int, whole: int | None = None) -> str:
    text = f"{count / 1e6:.2f} MB"
    return text + (f" ({100 * count / whole:.0f}%)" if whole else "")


VARIANT_MEANINGS = {"fp16": "`<stem>.fp16.onnx` (float16 weights and arithmetic)",
                    "int8": "`<stem>.int8.onnx` (dynamic int8 quantization of the operators onnxruntime quantizes, "
                            "the rest float32)"}


def _variant_kinds(meta: dict) -> list[str]:
    """The variant kinds the artifact carries (metadata.json's ``variants.kinds``)."""
    return [k for k in (meta.get("variants") or {}).get("kinds") or [] if k in VARIANT_MEANINGS]


def _variant_files(meta: dict) -> str:
    """The Files line's mention of the variant kinds the artifact carries."""
    kinds = _variant_kinds(meta)
    return (", their " + " and ".join(f"`.{k}.onnx`" for k in kinds) + f" variant{'s' if len(kinds) > 1 else ''} (below)"
            if kinds else "")


def _variants_section(meta: dict) -> list[str]:
    """The float16 and int8 copies of the ONNX files: size, difference, latency and FID beside float32's."""
    variants = meta.get("variants") or {}
    latency = variants.get("latency", {})
    hardware = latency.get("hardware", {})
    lines = ["Smaller copies of the ONNX files with the same input and output names, shapes and dtypes: load "
             + " or ".join(VARIANT_MEANINGS[k] for k in _variant_kinds(meta)) + " in place of `<stem>.onnx`. "
             f"`zoo variants {meta['name']}` remakes them.",
             "",
             "Max abs diff: the largest absolute difference from the float32 outputs stored in `examples.npz`, on its "
             f"inputs. Latency: median ms per run of {latency.get('runtime', 'onnxruntime')}, at batch 1 and 64, the "
             f"files taking turns, on a {hardware.get('cpu_count', '?')}-core {hardware.get('machine', '')} CPU whose "
             "load was not controlled: compare the rows of one file, not figures across cards. FID: the zoo's "
             "features, every file of a group fed the same inputs.",
             ""]
    rows, notes = [], []
    for onnx_file, entry in (variants.get("files") or {}).items():
        whole = entry["float32"]["bytes"]
        fid = entry.get("fid") or {}
        scores = fid.get("scores", {})
        for kind in ("float32", *variants.get("kinds", [])):
            item = entry.get(kind) or {}
            if "skipped" in item:
                notes.append(f"No {kind} variant of `{onnx_file}`: {item['skipped']}")
                continue
            if not item:
                continue
            timed = item.get("latency_ms", {})
            label = kind
            if item.get("weight_type"):
                ops = ", ".join(f"{count} {op}" for op, count in item.get("quantized_ops", {}).items()
                                if op != "DynamicQuantizeLinear")
                label += f" ({item['weight_type']} weights" + (f": {ops}" if ops else "") + ")"
            rows.append([f"`{item['file']}`", label, _size(item["bytes"], None if kind == "float32" else whole),
                         "-" if kind == "float32" else f"{item['max_abs_diff']:.2e}",
                         number(timed.get("batch_1")), number(timed.get("batch_64")), number(scores.get(kind))])
        if "scores" in fid:
            notes.append(f"FID of `{onnx_file}` and its variants: {fid.get('inputs')}, n = {fid['n']:,}, against "
                         f"{fid.get('reference')}; features: {fid.get('features')}")
        elif "not_applicable" in fid:
            notes.append(f"No FID for `{onnx_file}`: {fid['not_applicable']}")
        elif "skipped" in fid:
            notes.append(f"No FID for `{onnx_file}`: {fid['skipped']}")
        elif "not_measured" in fid:
            notes.append(f"FID of `{onnx_file}` not measured: {fid['not_measured']}")
    lines += markdown_table(["file", "variant", "size", "max abs diff", "ms, batch 1", "ms, batch 64", "FID"], rows)
    return lines + [""] + [f"- {note}" for note in notes]


def _limitations(meta: dict, recipe: dict) -> list[str]:
    cls = _family_class(meta.get("family", ""))
    d = recipe.get("data", {})
    items = list(cls.limitations if cls else ())
    size = "x".join(str(s) for s in d.get("image_size", ()))
    colour = "greyscale" if d.get("channels") == 1 else "RGB"
    items.append(f"It has only seen {size} {colour} images of its training data; other sizes, colours or kinds of "
                 "image are outside what it learned, and it does not say so.")
    items.append("Samples are reproducible from a seed on the same TensorFlow version and device; other "
                 "versions or hardware may change the last digits.")
    return [f"- {item}" for item in items]


def _designs(recipe: dict) -> list[str]:
    """The designs a recipe's data is drawn in: data.design, or each domain's (once each, in order)."""
    d = recipe.get("data", {})
    named = [d.get(key, {}).get("design") or d.get("design", "") for key in ("domain_a", "domain_b")] \
        if d.get("domain_a", {}).get("design") else [d.get("design", "")]
    return list(dict.fromkeys(name for name in named if name)) or [""]


def _licence(meta: dict, recipe: dict) -> list[str]:
    known = catalogue.dataset(meta.get("dataset", {}).get("name", ""))
    if not known:
        lines = ["- Training data: your own data: its licence applies to what the model learned from it."]
    else:
        lines = []
        for design in _designs(recipe):
            title, licence, attribution = known.terms(design)
            lines.append(f"- Training data: {title}, {licence}." + (f" Attribution: {attribution}" if attribution else ""))
    return [*lines,
            f"- Code and weights: {catalogue.PROJECT_LICENCE}, the project's licence; the data's terms still apply to "
            "redistributing what the model generates from it."]


def _usage(meta: dict) -> list[str]:
    """How to call the model in Python and from the command line, by what its family declares it can do."""
    cls = _family_class(meta.get("family", ""))
    can = cls.capabilities if cls else frozenset()
    name = meta["name"]
    python = ["import zoo", "", f'model = zoo.load("{name}")  # keras.models.load_model(".../model.keras") after import zoo']
    shell = [f"zoo info {name} --verify"]
    conditional = Capability.CONDITIONAL in can
    if Capability.TRANSLATE in can:
        python.append('translated = model.translate(images_a, direction="a2b")  # "b2a" for the way back')
        shell.append(f"zoo translate {name} my_images/ --direction a2b -o translated/")
    if Capability.SAMPLE in can:
        if conditional:
            python.append("labels = [3] * 16  # class ids")
        python.append("images = model.sample(16, seed=0" + (", labels=labels)" if conditional else ")"))
        shell.append(f"zoo sample {name} -n 64 -o samples.png" + (" --label 3" if conditional else ""))
    if Capability.SAMPLERS in can:
        python.append('fast = model.sample(16, seed=0, sampler="ddim", steps=50)  # or sampler="ddpm" (all T steps)')
        python.append('fewer = model.sample(16, seed=0, sampler="dpmpp_2m", steps=15)  # DPM-Solver++(2M), deterministic')
    if Capability.RECONSTRUCT in can:
        python.append("rebuilt = model.reconstruct(images" + (", labels)" if conditional else ")"))
        shell.append(f"zoo reconstruct {name} -o reconstructions.png")
    if Capability.TRAVERSE in can:
        shell.append(f"zoo traverse {name} --dims 0-7 -o traversal.png")
    if Capability.LIKELIHOOD in can:
        python.append("nll = -model.log_likelihood(images, k=1000" + (", labels=labels)" if conditional else ")")
                      + "  # IWAE bound, nats per image")
    if Capability.CLASSIFY in can:
        python.append("probabilities = model.predict_proba(images)  # (N, classes); model.features(images) for FID")
    return ["```python", *python, "```", "", "```bash", *shell, "```"]


def _sampling_files(meta: dict) -> set[str]:
    return {curve.get("figure") for curve in (meta.get("sampling_curves") or {}).values()}


def _figures_section(meta: dict) -> list[str]:
    """The pictures `zoo manifold|clusters|traverse NAME --into-card` added to the artifact, each with its caption."""
    lines = []
    for file, caption in meta["figures"].items():
        if file not in _sampling_files(meta):
            lines += [f"![{file}]({file})", "", caption, ""]
    return lines


def _sampling_section(meta: dict) -> list[str]:
    """What `zoo sampling-curve NAME --into-card` measured: sample quality against steps or the guidance scale."""
    lines = []
    for kind, curve in sorted(meta["sampling_curves"].items(), reverse=True):  # steps, then guidance
        rows = curve["rows"]
        if kind == "guidance":
            keys = [k for k in ("fid", "label_accuracy", "precision", "recall") if all(k in r for r in rows)]
            table = markdown_table(["guidance", *keys], [[f"{r['guidance']:g}", *[number(r[k]) for k in keys]] for r in rows])
            what = "DDIM-50 samples against the guidance scale (0 is the unconditional model, 1 the conditional one)"
        else:
            samplers = sorted({r["sampler"] for r in rows})
            counts = sorted({r["steps"] for r in rows})
            fid = {(r["sampler"], r["steps"]): r["fid"] for r in rows}
            table = markdown_table(["steps", *[f"FID {s}" for s in samplers]],
                                   [[str(c), *[number(fid[(s, c)]) if (s, c) in fid else "" for s in samplers]]
                                    for c in counts])
            what = "FID against the number of sampling steps (network calls per image)"
        figure = curve.get("figure")
        lines += [f"{what}, n = {curve['num_samples']:,} samples against as many test images ({curve.get('created', '')}, "
                  f"seed {curve.get('seed', 0)}):", "", *table, ""]
        if figure in (meta.get("figures") or {}):
            lines += [f"![{figure}]({figure})", ""]
    return lines


def render(folder) -> str:
    """The model card of the artifact in ``folder``, from its metadata.json and metrics.json."""
    metrics = Path(folder) / "metrics.json"
    meta = {**read_metadata(folder), "_folder": str(folder)}  # where its siblings are, for comparisons
    return from_metadata(meta, json.loads(metrics.read_text()) if metrics.is_file() else None)


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
             + _variant_files(meta)
             + ", `examples.npz` (test vectors), `metadata.json` (sha256 of every file)"
             + (", `metrics.json` (`zoo eval`'s report)" if report else ""),
             "", f"![{meta.get('preview', '')}]({meta.get('preview', '')})", "",
             "## Use", "", *_usage(meta), "",
             *(["## Latent space", "", *_figures_section(meta), ""]
               if set(meta.get("figures") or {}) - _sampling_files(meta) else []),
             *(["## Sampling", "", *_sampling_section(meta), ""] if meta.get("sampling_curves") else []),
             "## Inputs and outputs", *_io_section(meta), "",
             "## Data", "", *_data_section(meta, recipe), "",
             "## Training", "", *_training_section(meta, recipe), "",
             "## Evaluation", "", *_evaluation_section(meta, report), "",
             *(["## Debiasing", "", *_debias_section(meta), ""] if meta.get("debias") else []),
             "## Export parity", "", *_parity_section(meta), "",
             *(["## Smaller variants", "", *_variants_section(meta), ""] if meta.get("variants") else []),
             "## Limitations", "", *_limitations(meta, recipe), "",
             "## Licence", "", *_licence(meta, recipe), ""]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def write(name_or_path) -> Path:
    """(Re)write an artifact's README.md and record its sha256 in metadata.json."""
    folder = resolve(name_or_path)
    return update_artifact(folder, {CARD: render(folder)}, {}) / CARD


def catalog(folders: dict) -> list[str]:
    """The README's model table: one markdown row per artifact ({name: folder}), with a thumbnail of its preview."""
    rows = []
    for name, folder in folders.items():
        meta = read_metadata(folder)
        known = catalogue.dataset(meta.get("dataset", {}).get("name", ""))
        classes = meta.get("dataset", {}).get("classes") or []
        domains = [meta.get("recipe", {}).get("data", {}).get(key, {}).get("classes") for key in ("domain_a", "domain_b")]
        training = meta.get("training", {})
        preview = f"exported/{name}/{meta.get('preview', '')}"
        rows.append([f"[`{name}`](exported/{name}/README.md)", meta.get("family", "?"),
                     (known.title if known else meta.get("dataset", {}).get("name", "?")) + (f" (classes {classes})" if classes else "")
                     + (f" (classes {domains[0]} and {domains[1]})" if all(domains) else ""),
                     f"{meta.get('parameters', {}).get('total', 0):,}", "; ".join(key_metrics(meta)) or "-",
                     f"{training.get('epochs')} epochs, {training.get('train_seconds', 0):,.0f} s",
                     f'<img src="{preview}" width="120">'])
    return markdown_table(["model", "family", "data", "parameters", "key figures", "trained", "preview"], rows)
