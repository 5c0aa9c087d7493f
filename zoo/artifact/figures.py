"""How an artifact's figures are shown: its key figures (``zoo list``, the README's table) and the rows of a
``zoo eval`` report, as cells that the model card renders in Markdown and the CLI as plain text."""

from __future__ import annotations

COLUMNS = (("fid", "FID"), ("kid", "KID"), ("precision", "precision"), ("recall", "recall"),
           ("classifier_score", "class. score"), ("label_accuracy", "label acc."))


def number(value, digits: int = 4) -> str:
    """A figure as a table cell: ``digits`` significant digits, integers with thousands separators, "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}g}"


def report_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """The comparison rows of a report as (header, cells): one row per sample set, the floor last."""
    rows = report.get("rows", [])
    present = [(key, title) for key, title in COLUMNS if any(key in row for row in rows)]
    header = ["", "vs", "n"] + [title for _, title in present]
    table = []
    for row in rows:
        cells = [row["name"], row["against"], str(row["count"])]
        for key, _ in present:
            if key == "kid" and key in row:
                cells.append(f"{row['kid']:.4f} ± {row['kid_std']:.4f}")
            elif key == "classifier_score" and key in row:
                cells.append(f"{row[key]:.3f} ± {row['classifier_score_std']:.3f}")
            else:
                cells.append(number(row.get(key)))
        table.append(cells)
    return header, table


def report_figures(report: dict) -> dict[str, dict[str, float]]:
    """The family's other figures (likelihood, reconstruction, cycle, classification, accuracy per subgroup), numbers
    only."""
    return {section: {k: v for k, v in report[section].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            for section in ("likelihood", "latent", "reconstruction", "cycle", "classification", "groups")
            if section in report}


def ground_truth_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """Translations against their true counterparts (paired designs), beside the untranslated input: (header, cells)."""
    header = ["direction", "L1, translated", "L1, untranslated input", "SSIM, translated", "SSIM, untranslated input"]
    rows = [[direction, number(scores["translated"]["l1"]), number(scores["untranslated"]["l1"]),
             number(scores["translated"]["ssim"]), number(scores["untranslated"]["ssim"])]
            for direction, scores in report.get("ground_truth", {}).items()]
    return header, rows


DEBIAS_FIGURES = ("overall_accuracy", "rare_accuracy", "worst_group_accuracy")  # benchmarks/debias.py, per run


def debias_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """A debiasing comparison (``benchmarks/debias.py``) as (header, cells): one row per arm, each figure the mean ±
    standard deviation over the seeds, in percent."""
    header = ["arm", "debias", "seeds", "overall", f"rare group ({result.get('rare_group') or '-'})", "worst group"]
    rows = []
    for name, arm in result["arms"].items():
        cells = [name, str(arm.get("debias")).lower(), str(len(arm.get("runs", [])))]
        for key in DEBIAS_FIGURES:
            figure = arm["summary"].get(key)
            cells.append(f"{100 * figure['mean']:.2f} ± {100 * figure['std']:.2f}" if figure else "-")
        rows.append(cells)
    return header, rows


def grey_level_bernoulli(recipe: dict) -> bool:
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
    if "worst_group_accuracy" in metrics:
        out.append(f"worst-group accuracy {100 * metrics['worst_group_accuracy']:.2f}%")
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
                   + (" (grey-level cross-entropy)" if grey_level_bernoulli(meta.get("recipe", {})) else ""))
    if "label_accuracy" in metrics:
        out.append(f"label accuracy {100 * metrics['label_accuracy']:.1f}%")
    elif preferred and f"label_accuracy{preferred[0][3:]}" in metrics:  # a row of several, e.g. a guided DDIM-50
        out.append(f"label accuracy {100 * metrics[f'label_accuracy{preferred[0][3:]}']:.1f}%")
    if not out:
        final = (meta.get("training") or {}).get("final") or {}
        if "val_loss" in final:
            out.append(f"val_loss {final['val_loss']:.4g} (not evaluated: run `zoo eval`)")
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    escape = [[str(c).replace("|", "\\|") for c in row] for row in [header] + rows]
    return ["| " + " | ".join(escape[0]) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(row) + " |" for row in escape[1:]]
