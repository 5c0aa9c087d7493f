"""Progress lines for long loops (sampling, embedding, likelihoods) that stay readable in a terminal and in a log."""

from __future__ import annotations

import sys


def progress_line(label: str):
    """A progress callback ``(done, total)`` that rewrites one line on a terminal; in a log file (not a
    terminal) it writes a line at each tenth of the way instead, so that logs stay readable."""
    terminal = sys.stderr.isatty()
    last_tenth = -1

    def report(done: int, total: int) -> None:
        nonlocal last_tenth
        if terminal:
            print(f"\r{label}: {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
            return
        tenth = 10 * done // max(total, 1)
        if tenth > last_tenth or done >= total:
            last_tenth = tenth
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)
    return report
