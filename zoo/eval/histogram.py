"""A picture of score distributions: one panel per score, one outlined histogram per set of inputs, drawn with Pillow.

Each histogram is normalized to its set's size, so sets of different sizes compare. A panel whose scores are all
positive and span more than a factor of :data:`LOG_RATIO` gets a logarithmic axis (of at most :data:`LOG_DECADES`
decades), so that a far-off set (uniform noise) does not squash the others into one bin.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.files import atomic_path

COLOURS = ((40, 40, 40), (214, 39, 40), (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189),
           (140, 86, 75), (227, 119, 194))
PANEL_WIDTH, PANEL_HEIGHT = 560, 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 30, 42
BINS = 40
LOG_RATIO = 30.0
LOG_DECADES = 4


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round numbers spanning [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:.4g}"


def _panel(draw: ImageDraw.ImageDraw, left: int, top: int, title: str, by_set: dict, names: dict, fonts) -> None:
    small, medium = fonts
    everything = np.concatenate([np.asarray(v, "float64") for v in by_set.values()])
    low, high = float(everything.min()), float(everything.max())
    log = low > 0 and high / low > LOG_RATIO
    if log:  # at most LOG_DECADES decades: smaller scores go into the first bin
        low = max(low, high / 10 ** LOG_DECADES)
    transform = np.log10 if log else (lambda v: np.asarray(v, "float64"))
    t_low, t_high = float(transform(low)), float(transform(high))
    if t_high - t_low < 1e-12:
        t_low, t_high = t_low - 0.5, t_high + 0.5
    pad = 0.02 * (t_high - t_low)
    t_low, t_high = t_low - pad, t_high + pad
    edges = np.linspace(t_low, t_high, BINS + 1)
    x0, x1 = left + MARGIN_LEFT, left + PANEL_WIDTH - MARGIN_RIGHT
    y0, y1 = top + MARGIN_TOP, top + PANEL_HEIGHT - MARGIN_BOTTOM
    histograms = {key: np.histogram(np.clip(transform(np.maximum(values, low) if log else values), t_low, t_high),
                                    edges)[0] / max(len(values), 1) for key, values in by_set.items()}
    peak = max(float(h.max()) for h in histograms.values()) or 1.0
    draw.text((x0, top + 8), title + ("  (log axis)" if log else ""), fill=(0, 0, 0), font=medium)
    draw.rectangle((x0, y0, x1, y1), outline=(150, 150, 150))

    def x_of(t):
        return x0 + (t - t_low) / (t_high - t_low) * (x1 - x0)

    if log:
        steps = (1, 2, 5) if t_high - t_low < 3 else (1,)
        ticks = [math.log10(m) + p for p in range(math.floor(t_low), math.ceil(t_high) + 1) for m in steps
                 if t_low <= math.log10(m) + p <= t_high]
        labels = [_label(10 ** t) for t in ticks]
    else:
        ticks = _ticks(t_low, t_high)
        labels = [_label(t) for t in ticks]
    for tick, label in zip(ticks, labels):
        x = x_of(tick)
        draw.line((x, y1, x, y1 + 4), fill=(90, 90, 90))
        width = draw.textlength(label, font=small)
        draw.text((x - width / 2, y1 + 6), label, fill=(60, 60, 60), font=small)
    for fraction in (0.0, 0.5, 1.0):
        y = y1 - fraction * (y1 - y0)
        label = f"{fraction * peak:.2f}"
        draw.text((x0 - 6 - draw.textlength(label, font=small), y - 6), label, fill=(60, 60, 60), font=small)
    draw.text((x0, y1 + 22), "score (higher: more out-of-distribution); height: fraction of the set per bin",
              fill=(110, 110, 110), font=small)
    for index, (key, counts) in enumerate(histograms.items()):
        colour = COLOURS[list(names).index(key) % len(COLOURS)]
        points = [(x_of(edges[0]), y1)]
        for b, count in enumerate(counts):
            y = y1 - count / peak * (y1 - y0)
            points += [(x_of(edges[b]), y), (x_of(edges[b + 1]), y)]
        points.append((x_of(edges[-1]), y1))
        draw.line(points, fill=colour, width=3 if index == 0 else 2)


def histogram_picture(panels: dict, names: dict, *, columns: int = 2) -> Image.Image:
    """``panels`` {title: {set key: scores}} as one picture, with a legend of ``names`` {set key: label} on top."""
    small, medium = _font(12), _font(15)
    count = len(panels)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    per_row = 2 if columns > 1 else 1
    legend_height = 20 * math.ceil(len(names) / per_row) + 14
    image = Image.new("RGB", (columns * PANEL_WIDTH, legend_height + rows * PANEL_HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for index, (key, label) in enumerate(names.items()):
        colour = COLOURS[index % len(COLOURS)]
        x, y = 16 + (index % per_row) * PANEL_WIDTH, 8 + 20 * (index // per_row)
        draw.line((x, y + 8, x + 26, y + 8), fill=colour, width=3)
        draw.text((x + 34, y), label, fill=(0, 0, 0), font=medium)
    for index, (title, by_set) in enumerate(panels.items()):
        row, column = divmod(index, columns)
        _panel(draw, column * PANEL_WIDTH, legend_height + row * PANEL_HEIGHT, title,
               {key: by_set[key] for key in names if key in by_set}, names, (small, medium))
    return image


def write_histogram(panels: dict, names: dict, path, *, columns: int = 2):
    """Write :func:`histogram_picture` atomically as a PNG; returns the path."""
    with atomic_path(path) as tmp:
        histogram_picture(panels, names, columns=columns).save(tmp, format="PNG")
    return path
