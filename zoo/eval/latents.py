"""The picture of a latent space that keras.io's VAE example and every course draws: the latent means of a labelled
set in two dimensions, one colour per class, with a legend of class names. Two-dimensional latents are shown as they
are; larger ones through a PCA projection (numpy's SVD), whose share of the variance the axis labels give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.files import atomic_path


def project_2d(points: np.ndarray, dims=None) -> tuple[np.ndarray, tuple[str, str]]:
    """``points`` ``(N, D)`` in two dimensions: ``dims`` (two indices) when given or when D = 2, else the first two
    principal components. Returns the ``(N, 2)`` points and the two axis labels."""
    points = np.asarray(points, "float64")
    if dims is None and points.shape[1] == 2:
        dims = (0, 1)
    if dims is not None:
        return points[:, list(dims)], (f"z[{dims[0]}]", f"z[{dims[1]}]")
    centred = points - points.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    share = singular**2 / np.sum(singular**2)
    return centred @ vt[:2].T, (f"PC 1 ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%} of variance)")


def scatter_png(points: np.ndarray, labels: np.ndarray, class_names, path, *, title: str, axes=("", "")) -> Path:
    """A scatter plot of ``(N, 2)`` points coloured by label, with a legend naming each class, written atomically."""
    figure = scatter_figure(points, labels, class_names, title=title, axes=axes)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return Path(path)


def scatter_figure(points: np.ndarray, labels: np.ndarray, class_names, *, title: str, axes=("", "")) -> Figure:
    """The matplotlib figure of :func:`scatter_png`."""
    figure = Figure(figsize=(7.5, 6), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    palette = colormaps["tab10"].colors
    for k, name in enumerate(class_names):
        chosen = labels == k
        if np.any(chosen):
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7, color=palette[k % len(palette)],
                       label=f"{k} {name}" if name != str(k) else name, linewidths=0)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=3, frameon=False)
    figure.tight_layout()
    return figure
