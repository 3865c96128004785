"""Charts drawn on the server: numbers in, one inline SVG out.

Why on the server: a page stays a document. Nothing is fetched from elsewhere, no chart library
runs in the browser, the page works without JavaScript, and a chart shows exactly the numbers the
page was rendered with. Each function here is pure (the same numbers give the same SVG) and does
layout only: scales, ticks, positions. Every piece of text (titles, axis labels, category labels,
series names) is escaped here, so a feature named `<script>` is drawn as text; the result is
`Markup`, which Jinja inserts as it is.

A value of None (or NaN, or an infinity) is a gap: no bar, a break in the line. A chart with no
value at all says so instead of drawing an empty frame with made-up axes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

Number = Callable[[float], str]

PALETTE = ("#2457a6", "#d97706", "#1d7a46", "#b42318", "#6b4fbb", "#0f766e")
"""Series colours in order (the first is the UI's accent colour); a seventh series reuses the first."""
INK, MUTED, GRID = "#1f2933", "#5f6b7a", "#d9dee5"
FONT_SIZE = 11
CHAR_WIDTH = 6.2
"""About how wide one character of the chart's 11 px font is: enough to decide when labels collide."""
LARGEST = 1e300
"""The largest magnitude drawn: beyond it a round tick above the value may not exist as a float. A
larger value is a gap, like a missing one (no figure champion computes comes near it)."""
LONGEST_LABEL = 24
"""Characters of a category label drawn on the axis; a longer one is cut, in full in its tooltip."""


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label (None where there is none)."""

    name: str
    values: Sequence[float | None]


def number(value: float) -> str:
    """A value as a reader wants it on an axis: 1,250 · 12 · 0.125 · 0.00125."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


_SMALLEST_SPAN = sys.float_info.min * 16


def nice_ticks(low: float, high: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round tick values covering [low, high], about `count` of them, evenly spaced.

    By hand, after Heckbert's "nice numbers" (Graphics Gems, 1990): numpy has no tick finder,
    and matplotlib's (MaxNLocator) would load a plotting library into the server for five numbers.
    The step is 1, 2 or 5 times a power of ten (at least 1 when the values are `whole` numbers,
    such as counts); the first tick is at or below `low`, the last at or above `high`.
    """
    if not (-LARGEST <= low <= high <= LARGEST):
        raise ValueError(f"ticks need -{LARGEST:g} <= low <= high <= {LARGEST:g}, not {low!r}, {high!r}")
    # One value (or as good as), or a span of a few subnormal numbers: a band around it, wide enough that
    # a quarter of it is a normal float (a subnormal span divided into steps is zero, and has no log).
    if high - low <= max(abs(low), abs(high)) * 1e-9 or high - low < _SMALLEST_SPAN:
        spread = abs(high) * 0.1
        spread = spread if spread >= _SMALLEST_SPAN else 1.0
        low, high = high - spread, high + spread
    # Divided before subtracting, so that the span of two huge values does not overflow.
    step = _nice(high / max(count - 1, 1) - low / max(count - 1, 1))
    if whole:
        step = max(step, 1.0)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    # A value far smaller than the step (a subnormal beside billions) divides to zero: step out to it.
    first, last = first - step * (first > low), last + step * (last < high)
    steps = round(last / step - first / step)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(first + i * step, digits) for i in range(steps + 1)]


def _nice(rough: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest `rough` (Heckbert's rounding thresholds)."""
    power = 10.0 ** math.floor(math.log10(rough))
    fraction = rough / power
    for limit, nice in ((1.5, 1.0), (3.0, 2.0), (7.0, 5.0)):
        if fraction < limit:
            return nice * power
    return 10.0 * power


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    as_share: bool = False,
    whole: bool = False,
    value_format: Number = number,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Bars per label, one per series side by side, from a zero line.

    With `as_share`, each series is drawn as the share (in percent) of its own total: two
    histograms over the same bins compare by shape, whatever their row counts. The tooltips then
    give both the value and its share. `whole`: the values are counts, so the ticks are whole numbers.
    """
    _check(labels, series)
    if as_share:
        drawn = [Series(s.name, _shares(s.values)) for s in series]
    else:
        drawn = [Series(s.name, [_finite(v) for v in s.values]) for s in series]
    frame = _Frame(
        labels, drawn, title, x_label, y_label, width, height, include_zero=True, whole=whole and not as_share
    )
    parts = frame.open(number if as_share else value_format)
    if frame.empty:
        return frame.close(parts)
    band = frame.band
    inner = band * 0.8
    bar = inner / len(drawn)
    zero = frame.y(0.0)
    for s_index, (shown, given) in enumerate(zip(drawn, series, strict=True)):
        colour = PALETTE[s_index % len(PALETTE)]
        for i, value in enumerate(shown.values):
            if value is None:
                continue
            x = frame.left + band * i + (band - inner) / 2 + bar * s_index
            top, bottom = sorted((frame.y(value), zero))
            raw = _finite(given.values[i])
            said = value_format(raw) if raw is not None else "—"
            if as_share:
                said = f"{said} ({value:.1f}%)"
            tip = f"{labels[i]} · {shown.name}: {said}"
            parts.append(
                f'<rect class="bar series-{s_index}" x="{x:.1f}" y="{top:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{bottom - top:.1f}" fill="{colour}"><title>{_text(tip)}</title></rect>'
            )
    parts.append(frame.legend())
    return frame.close(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    value_format: Number = number,
    include_zero: bool = False,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """A line per series through its points (a dot on each); a missing value breaks the line.

    Points sit at the middle of each label's band, as bars do, so a line chart and a bar chart
    over the same time buckets line up on a page.
    """
    _check(labels, series)
    drawn = [Series(s.name, [_finite(v) for v in s.values]) for s in series]
    frame = _Frame(labels, drawn, title, x_label, y_label, width, height, include_zero=include_zero)
    parts = frame.open(value_format)
    if frame.empty:
        return frame.close(parts)
    for s_index, shown in enumerate(drawn):
        colour = PALETTE[s_index % len(PALETTE)]
        path, pen_down = [], False
        dots = []
        for i, value in enumerate(shown.values):
            if value is None:
                pen_down = False
                continue
            x, y = frame.left + frame.band * (i + 0.5), frame.y(value)
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
            pen_down = True
            tip = f"{labels[i]} · {shown.name}: {value_format(value)}"
            dots.append(
                f'<circle class="point series-{s_index}" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{_text(tip)}</title></circle>"
            )
        parts.append(
            f'<path class="line series-{s_index}" d="{" ".join(path)}" fill="none" stroke="{colour}" '
            'stroke-width="2" stroke-linejoin="round"/>'
        )
        parts.extend(dots)
    parts.append(frame.legend())
    return frame.close(parts)


class _Frame:
    """The parts every chart shares: margins, the y scale and its ticks, the axes and their labels."""

    def __init__(
        self,
        labels: Sequence[str],
        series: Sequence[Series],
        title: str,
        x_label: str,
        y_label: str,
        width: int,
        height: int,
        *,
        include_zero: bool,
        whole: bool = False,
    ) -> None:
        self.labels, self.series, self.title = labels, series, title
        self.x_label, self.y_label = x_label, y_label
        self.width = width
        values = [v for s in series for v in s.values if v is not None]
        self.empty = not values or not labels
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        if include_zero:
            low, high = min(low, 0.0), max(high, 0.0)
            if low == high == 0.0:  # all zeros: an axis from 0 up, not one centred on 0
                high = 1.0
        self.ticks = nice_ticks(low, high, whole=whole)
        self.left, self.right, self.top = 64.0, 12.0, 30.0 + (16.0 if len(series) > 1 else 0.0)
        self.band = (width - self.left - self.right) / max(len(labels), 1)
        longest = min(max((len(label) for label in labels), default=0), LONGEST_LABEL) * CHAR_WIDTH
        # Labels turn 40° when they would collide lying flat; then one in `every` is drawn so that
        # rotated labels (about a line's height apart) do not overlap either.
        self.rotate = longest > self.band * 0.95
        self.every = max(1, math.ceil(16 / self.band)) if self.rotate else 1
        drop = longest * math.sin(math.radians(40)) if self.rotate else 0.0
        self.bottom = 40.0 + min(drop, 110.0)
        self.height = height + (self.bottom - 40.0)
        self.plot_height = self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return self.top + self.plot_height * (1 - (value - low) / (high - low))

    def open(self, value_format: Number = number) -> list[str]:
        w, h = self.width, self.height
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h:.0f}" width="{w}" '
            f'height="{h:.0f}" role="img" aria-label="{_text(self.title)}" font-size="{FONT_SIZE}">',
            f"<title>{_text(self.title)}</title>",
            f'<text class="chart-title" x="0" y="14" font-weight="600" font-size="13" fill="{INK}">'
            f"{_text(self.title)}</text>",
        ]
        bottom = self.top + self.plot_height
        right = w - self.right
        if self.empty:
            parts.append(
                f'<rect x="{self.left}" y="{self.top}" width="{right - self.left:.1f}" '
                f'height="{self.plot_height:.1f}" fill="none" stroke="{GRID}"/>'
            )
            parts.append(
                f'<text class="no-data" x="{(self.left + right) / 2:.1f}" y="{self.top + self.plot_height / 2:.1f}" '
                f'text-anchor="middle" fill="{MUTED}">No data in this period</text>'
            )
            return parts
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(f'<line x1="{self.left}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
            parts.append(
                f'<text class="y-tick" x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
                f"{_text(value_format(tick))}</text>"
            )
        parts.append(f'<line x1="{self.left}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" stroke="{MUTED}"/>')
        for i, label in enumerate(self.labels):
            if i % self.every:
                continue
            x = self.left + self.band * (i + 0.5)
            shown = label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…"
            tip = f"<title>{_text(label)}</title>" if shown != label else ""
            if self.rotate:
                parts.append(
                    f'<text class="x-tick" x="{x:.1f}" y="{bottom + 12:.1f}" text-anchor="end" fill="{MUTED}" '
                    f'transform="rotate(-40 {x:.1f} {bottom + 12:.1f})">{tip}{_text(shown)}</text>'
                )
            else:
                parts.append(
                    f'<text class="x-tick" x="{x:.1f}" y="{bottom + 15:.1f}" text-anchor="middle" fill="{MUTED}">'
                    f"{tip}{_text(shown)}</text>"
                )
        middle = self.top + self.plot_height / 2
        parts.append(
            f'<text class="y-label" x="14" y="{middle:.1f}" text-anchor="middle" fill="{INK}" '
            f'transform="rotate(-90 14 {middle:.1f})">{_text(self.y_label)}</text>'
        )
        parts.append(
            f'<text class="x-label" x="{(self.left + right) / 2:.1f}" y="{self.height - 6:.1f}" '
            f'text-anchor="middle" fill="{INK}">{_text(self.x_label)}</text>'
        )
        return parts

    def legend(self) -> str:
        if len(self.series) < 2:
            return ""
        entries, x = [], self.left
        for index, s in enumerate(self.series):
            colour = PALETTE[index % len(PALETTE)]
            entries.append(
                f'<rect x="{x:.1f}" y="22" width="10" height="10" fill="{colour}"/>'
                f'<text x="{x + 14:.1f}" y="31" fill="{INK}">{_text(s.name)}</text>'
            )
            x += 24 + CHAR_WIDTH * len(s.name)
        return f'<g class="legend">{"".join(entries)}</g>'

    def close(self, parts: list[str]) -> Markup:
        parts.append("</svg>")
        return Markup("".join(parts))  # every text above went through _text


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    if not series:
        raise ValueError("a chart needs at least one series")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and abs(value) <= LARGEST else None


def _shares(values: Sequence[float | None]) -> list[float | None]:
    """Each value as a percentage of the series' total (all None when the total is not positive)."""
    kept = [_finite(v) for v in values]
    total = float(np.sum([v for v in kept if v is not None]))
    if total <= 0:
        return [None] * len(kept)
    return [None if v is None else v / total * 100 for v in kept]


def _text(value: str) -> str:
    return str(escape(value))
