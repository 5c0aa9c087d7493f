"""How a diffusion model's samples depend on how it samples: FID against the number of steps for each sampler, and
for a guided model FID, label accuracy, precision and recall against the guidance scale. Both come from the rows of
``zoo eval`` (``ddim_50``, ``dpmpp_15``, ``guidance_3``, ...), measured on one sample count."""

from __future__ import annotations

import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.files import atomic_path

STEP_ROW = re.compile(r"^(ddim|dpmpp)_(\d+)$")
GUIDANCE_ROW = re.compile(r"^guidance_(\d+(?:\.\d+)?)$")
SAMPLER_NAMES = {"ddim": "DDIM (eta 0)", "dpmpp": "DPM-Solver++(2M)"}


def steps_curves(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """``{sampler: [(steps, fid), ...]}`` from rows named ``<sampler>_<steps>``, by increasing steps."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        found = STEP_ROW.match(row["name"])
        if found:
            curves.setdefault(found[1], []).append((int(found[2]), float(row["fid"])))
    return {name: sorted(points) for name, points in curves.items()}


def guidance_curve(rows: list[dict]) -> list[dict]:
    """``[{"guidance", "fid", "label_accuracy", "precision", "recall"}, ...]`` from rows named ``guidance_<scale>``."""
    points = []
    for row in rows:
        found = GUIDANCE_ROW.match(row["name"])
        if found:
            points.append({"guidance": float(found[1]), **{k: row[k] for k in ("fid", "label_accuracy", "precision",
                                                                               "recall") if k in row}})
    return sorted(points, key=lambda p: p["guidance"])


def reusable_report(report: dict | None, names, *, num_samples: int, seed: int) -> dict | None:
    """``report`` (``zoo eval``'s metrics.json) if it already holds every row in ``names``, measured on
    ``num_samples`` samples drawn from ``seed``, so that a curve need not draw them again; else None."""
    if not report or report.get("num_samples") != num_samples or report.get("seed") != seed:
        return None
    held = {row["name"]: row for row in report.get("rows", [])}
    if not names or any(name not in held for name in names):
        return None
    return {**report, "rows": [held[name] for name in names]}


def curve_rows(kind: str, rows: list[dict]) -> list[dict]:
    """The rows a figure of ``kind`` ("steps" or "guidance") plots, as flat records for metadata and tables."""
    if kind == "guidance":
        return guidance_curve(rows)
    return [{"sampler": sampler, "steps": steps, "fid": fid} for sampler, points in steps_curves(rows).items()
            for steps, fid in points]


def figure(kind: str, rows: list[dict], *, title: str) -> Figure:
    """The figure of ``kind`` ("steps" or "guidance") from ``zoo eval`` rows."""
    fig = Figure(figsize=(8, 4.2) if kind == "guidance" else (6, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    if kind == "guidance":
        points = guidance_curve(rows)
        scales = [p["guidance"] for p in points]
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        left.plot(scales, [p["fid"] for p in points], "o-", color="tab:red")
        left.set_xlabel("guidance scale (0 unconditional, 1 conditional)")
        left.set_ylabel("FID (lower is better)")
        for key, style in (("label_accuracy", "o-"), ("precision", "s--"), ("recall", "^--")):
            if all(key in p for p in points):
                right.plot(scales, [p[key] for p in points], style, label=key.replace("_", " "))
        right.set_xlabel("guidance scale")
        right.set_ylim(0, 1.02)
        right.legend(frameon=False)
        for ax in (left, right):
            ax.grid(alpha=0.3)
    else:
        ax = fig.add_subplot()
        for sampler, points in steps_curves(rows).items():
            ax.plot([s for s, _ in points], [f for _, f in points], "o-", label=SAMPLER_NAMES.get(sampler, sampler))
        ax.set_xscale("log")
        ax.set_xlabel("sampling steps (network calls per image)")
        ax.set_ylabel("FID (lower is better)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_figure(kind: str, rows: list[dict], path, *, title: str) -> Path:
    """:func:`figure` as a PNG, written atomically."""
    fig = figure(kind, rows, title=title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
