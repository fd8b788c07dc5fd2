"""The dashboard's charts, drawn with matplotlib as inline SVG (:mod:`realname.charts`).

Each function takes computed metrics and the words to label them with (the page's
language), and returns an ``<svg>`` element. Figures are narrow (6.4 in) with large
type so they stay legible when a 375 px phone scales them down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from realname.charts import subplots, svg
from realname.ops.metrics_causes import CauseSeries
from realname.ops.metrics_funnel import Funnel
from realname.ops.metrics_providers import ProviderHealth

WIDTH = 5.6
#: Codes drawn separately in the cause chart; the rest are summed as "other".
TOP_CAUSES = 7
FONT = 12
OTHER_COLOUR = "#7f7f7f"


def funnel_chart(funnel: Funnel, labels: Mapping[str, str], title: str) -> Markup:
    """Horizontal bars, first step on top, each labelled with its count and rate."""
    steps = list(reversed(funnel.steps))
    figure, axes = subplots(WIDTH, 0.55 * len(steps) + 1.0)
    names = [labels[step.key] for step in steps]
    counts = [step.count for step in steps]
    bars = axes.barh(names, counts, color="#0969da")
    axes.bar_label(
        bars,
        labels=[f"{s.count} ({float(s.rate) * 100:.0f}%)" for s in steps],
        padding=3,
        fontsize=FONT,
    )
    axes.set_xlim(0, max([*counts, 1]) * 1.3)
    axes.set_title(title, fontsize=FONT + 1)
    axes.tick_params(labelsize=FONT)
    axes.spines[["top", "right"]].set_visible(False)
    return svg(figure)


def cause_colours(series: CauseSeries) -> dict[str, str]:
    """The colour of each code in :func:`causes_chart`: the page's table shows the same
    swatches instead of a legend, which would be unreadable on a phone."""
    codes = list(series.counts)
    palette = matplotlib_colours(TOP_CAUSES)
    return {code: palette[i] if i < TOP_CAUSES else OTHER_COLOUR for i, code in enumerate(codes)}


def causes_chart(series: CauseSeries, other: str, title: str, empty: str) -> Markup:
    """Stacked bars per bucket: the most frequent codes, then the rest as ``other``
    (grey); colours as :func:`cause_colours`, no legend."""
    figure, axes = subplots(WIDTH, 3.6)
    x = list(range(len(series.buckets)))
    codes = list(series.counts)
    shown = codes[:TOP_CAUSES]
    stacks: list[tuple[str, Sequence[int]]] = [(code, series.counts[code]) for code in shown]
    rest = codes[TOP_CAUSES:]
    if rest:
        stacks.append((other, [sum(series.counts[c][i] for c in rest) for i in range(len(x))]))
    bottom = [0] * len(x)
    colours = [*matplotlib_colours(len(shown)), *([OTHER_COLOUR] if rest else [])]
    for (label, values), colour in zip(stacks, colours, strict=True):
        axes.bar(x, values, bottom=bottom, label=label, color=colour, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if not stacks:
        axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
    step = max(1, len(x) // 8)
    axes.set_xticks(x[::step], [d.strftime("%m-%d") for d in series.buckets][::step])
    axes.tick_params(labelsize=FONT - 1)
    axes.set_title(title, fontsize=FONT + 1)
    axes.spines[["top", "right"]].set_visible(False)
    return svg(figure)


def latency_chart(rows: Sequence[ProviderHealth], title: str, empty: str) -> Markup:
    """p50 / p95 / p99 per provider check, in milliseconds, as grouped bars."""
    answered = [r for r in rows if r.p50_ms is not None]
    figure, axes = subplots(WIDTH, 0.5 * max(len(answered), 2) + 1.2)
    names = [f"{r.check_kind}" for r in answered]
    height = 0.27
    for offset, (label, attr, colour) in enumerate(
        (("p50", "p50_ms", "#1a7f37"), ("p95", "p95_ms", "#9a6700"), ("p99", "p99_ms", "#cf222e"))
    ):
        values = [int(getattr(r, attr) or 0) for r in answered]
        axes.barh(
            [i + (offset - 1) * height for i in range(len(answered))],
            values,
            height,
            label=label,
            color=colour,
        )
    axes.set_yticks(list(range(len(answered))), names)
    axes.invert_yaxis()
    if not answered:
        axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(fontsize=FONT - 2, loc="lower right")
    values = [r.p99_ms for r in answered if r.p99_ms]
    if values and max(values) > 20 * max(min(values), 1):
        # Face checks take seconds, element checks milliseconds: a log axis shows both.
        axes.set_xscale("log")
    axes.set_xlabel("ms", fontsize=FONT)
    axes.tick_params(labelsize=FONT - 1)
    axes.set_title(title, fontsize=FONT + 1)
    axes.spines[["top", "right"]].set_visible(False)
    return svg(figure)


def matplotlib_colours(n: int) -> list[str]:
    """``n`` colours from matplotlib's qualitative ``tab10`` cycle, its grey left out
    (grey is ``other``)."""
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    ]  # fmt: skip
    return [palette[i % len(palette)] for i in range(n)]
