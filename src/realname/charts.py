"""matplotlib figures as inline SVG, for pages that must load no internet assets.

The finance report and the operations dashboard both draw with matplotlib (an
installed package) and embed the SVG text in the HTML, so a page is self-contained
and a screenshot shows exactly what an operator sees. The ``Agg`` backend is chosen
before any figure is made: servers and tests have no display.
"""

from __future__ import annotations

import io
from functools import cache

import matplotlib
from markupsafe import Markup
from matplotlib import font_manager, pyplot
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: Fonts tried in order for labels: CJK first so cause names in zh-CN render, then
#: matplotlib's own DejaVu, which always exists.
FONT_FAMILY = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback", "DejaVu Sans"]


@cache
def _families() -> list[str]:
    """The families of :data:`FONT_FAMILY` installed here (asking for a missing one
    makes matplotlib warn on every label)."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return [name for name in FONT_FAMILY if name in installed] or ["DejaVu Sans"]


def subplots(width: float, height: float) -> tuple[Figure, Axes]:
    """One figure with one axes, ``width`` × ``height`` inches, drawn in memory.

    Text is written into the SVG as glyph outlines (matplotlib's default), so Chinese
    labels show even where the viewer has no CJK font.
    """
    matplotlib.use("Agg")  # no display: draw to memory only
    pyplot.rcParams["font.family"] = _families()
    figure, axes = pyplot.subplots(figsize=(width, height))
    return figure, axes


def svg(figure: Figure) -> Markup:
    """The figure as an ``<svg>`` element (no XML prolog), and the figure closed.

    The SVG scales to its container (``width: 100%`` on the page) because matplotlib
    writes a ``viewBox``; the fixed ``width``/``height`` attributes are kept for
    readers that show the file alone.
    """
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot.close(figure)
    text = buffer.getvalue()
    start = text.find("<svg")
    # matplotlib's own SVG output; every label in it was escaped by matplotlib.
    return Markup(text[start:])  # noqa: S704
