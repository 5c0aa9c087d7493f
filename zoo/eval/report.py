"""A ``zoo eval`` report as plain text, for the terminal."""

from __future__ import annotations

from zoo.artifact.figures import number, report_figures, report_table


def format_report(report: dict) -> str:
    """The report as a plain-text table (one row per comparison) and the family's other figures."""
    per = "test images" if report.get("kind") == "classification" else "images per set"
    lines = [f"{report.get('model', '')} ({report['family']}): {report['num_samples']} {per}"
             + (f", features {report['features']['network']}" if "features" in report else "")]
    header, table = report_table(report)
    if table:
        widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]
        for cells in [header] + table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    for section, values in report_figures(report).items():
        lines.append(f"{section}: " + ", ".join(f"{k} {number(v, 6)}" for k, v in values.items()))
    lines.extend(f"note: {note}" for note in report.get("notes", []))
    return "\n".join(lines)
