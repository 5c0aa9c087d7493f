"""``zoo eval``: pure-numpy sample-quality ``metrics``, the ``features`` they are computed in, one module per kind of
evaluation a family declares (``samples``, ``reconstruction``, ``translation``, ``classification``) run by
``evaluate``, training ``curve``s, and the plain-text ``report``."""

from zoo.eval.evaluate import evaluate
from zoo.eval.report import format_report

__all__ = ["evaluate", "format_report"]
