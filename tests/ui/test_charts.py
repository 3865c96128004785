"""The server-drawn charts: valid SVG, text escaped, values placed where the scale says, gaps left as gaps."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from champion.ui.charts import LARGEST, LONGEST_LABEL, Series, bar_chart, line_chart, nice_ticks, number

SVG = "{http://www.w3.org/2000/svg}"
NASTY = "<script>alert(\"x\")</script> & 'quoted'"


def parse(svg: str) -> ET.Element:
    """The chart as XML: a chart that does not parse (an unescaped `<` or `&`) fails here."""
    return ET.fromstring(svg)


def texts(root: ET.Element, cls: str) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if "bar" in (r.get("class") or "").split()]


def chart(**overrides: object) -> Markup:
    arguments: dict[str, object] = {
        "labels": ["a", "b", "c"],
        "series": [Series("s", [1.0, 2.0, 3.0])],
        "title": "T",
        "x_label": "X",
        "y_label": "Y",
    }
    arguments.update(overrides)
    return bar_chart(**arguments)  # type: ignore[arg-type]


def test_a_chart_is_one_inline_svg_named_for_assistive_technology() -> None:
    svg = chart(title="Requests per hour")
    assert isinstance(svg, Markup) and svg.startswith("<svg ") and svg.endswith("</svg>")
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label") == "Requests per hour"
    assert root.findtext(f"{SVG}title") == "Requests per hour"
    assert "href" not in svg and "<script" not in svg  # nothing loaded, nothing run


def test_axis_labels_and_ticks_are_drawn() -> None:
    root = parse(chart(x_label="Hour (UTC)", y_label="requests", labels=["00:00", "01:00", "02:00"]))
    assert texts(root, "x-label") == ["Hour (UTC)"] and texts(root, "y-label") == ["requests"]
    assert texts(root, "x-tick") == ["00:00", "01:00", "02:00"]
    assert texts(root, "y-tick") == ["0", "1", "2", "3"]


@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_every_text_is_escaped(draw: object) -> None:
    svg = draw(  # type: ignore[operator]
        [NASTY, "b"],
        [Series(NASTY, [1.0, 2.0]), Series("other", [2.0, 1.0])],
        title=NASTY,
        x_label=NASTY,
        y_label=NASTY,
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = parse(svg)  # and the escaped text reads back as it was given
    assert root.get("aria-label") == NASTY and root.findtext(f"{SVG}title") == NASTY
    assert texts(root, "x-label") == [NASTY] and texts(root, "y-label") == [NASTY]
    legend = ["".join(t.itertext()) for g in root.iter(f"{SVG}g") for t in g.iter(f"{SVG}text")]
    assert NASTY in legend
    tips = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert any(tip.startswith(f"{NASTY} · {NASTY}: ") for tip in tips)


def test_bar_heights_follow_the_values_from_the_zero_line() -> None:
    root = parse(chart(series=[Series("s", [5.0, 10.0, 0.0])]))
    heights = [float(b.get("height", "nan")) for b in bars(root)]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == 0
    bottoms = {round(float(b.get("y", "nan")) + float(b.get("height", "nan")), 1) for b in bars(root)}
    assert len(bottoms) == 1  # every bar stands on the same zero line


def test_a_negative_bar_hangs_below_the_zero_line() -> None:
    root = parse(chart(series=[Series("s", [-2.0, 2.0, 0.0])]))
    down, up, _ = bars(root)
    assert float(down.get("y", "nan")) == pytest.approx(float(up.get("y", "nan")) + float(up.get("height", "nan")))
    assert float(down.get("height", "nan")) == pytest.approx(float(up.get("height", "nan")))
    assert "-2" in texts(root, "y-tick")


def test_missing_values_are_gaps() -> None:
    root = parse(chart(series=[Series("s", [1.0, None, math.nan])]))
    assert len(bars(root)) == 1
    line = parse(
        line_chart(
            ["a", "b", "c", "d", "e"],
            [Series("s", [1.0, 2.0, None, 3.0, math.inf])],
            title="T",
            x_label="X",
            y_label="Y",
        )
    )
    (path,) = line.iter(f"{SVG}path")
    assert path.get("d", "").count("M") == 2  # the line breaks at the gap
    assert len(list(line.iter(f"{SVG}circle"))) == 3


def test_a_chart_without_values_says_so() -> None:
    for svg in (
        chart(series=[Series("s", [None, None, None])]),
        line_chart([], [Series("s", [])], title="T", x_label="X", y_label="Y"),
    ):
        root = parse(svg)
        assert texts(root, "no-data") == ["No data in this period"] and not bars(root)
        assert texts(root, "y-tick") == []  # no made-up axis


def test_shares_compare_two_histograms_of_different_sizes() -> None:
    baseline, current = Series("baseline", [50, 50, 0]), Series("current", [200, 600, 200])
    root = parse(chart(series=[baseline, current], as_share=True, y_label="% of rows"))
    heights = [float(b.get("height", "nan")) for b in bars(root)]
    near = {"abs": 0.3}  # positions are written to a tenth of a pixel
    # baseline 50%, 50% (its 0% bar is there, flat); current 20%, 60%, 20%
    assert heights[0] == pytest.approx(heights[1], **near) and heights[2] == 0
    assert heights[4] == pytest.approx(3 * heights[3], **near) and heights[3] == pytest.approx(heights[5], **near)
    assert heights[0] == pytest.approx(heights[3] * 2.5, **near)
    tips = ["".join(t.itertext()) for b in bars(root) for t in b.iter(f"{SVG}title")]
    assert "b · current: 600 (60.0%)" in tips  # the count and its share


def test_counts_get_whole_ticks() -> None:
    root = parse(chart(series=[Series("s", [0.0, 1.0, 1.0])], whole=True))
    assert texts(root, "y-tick") == ["0", "1"]


def test_all_zeros_are_drawn_up_from_zero() -> None:
    root = parse(chart(series=[Series("s", [0.0, 0.0, 0.0])]))
    assert texts(root, "y-tick")[0] == "0" and len(bars(root)) == 3


def test_crowded_labels_turn_and_thin_out_and_long_ones_are_cut() -> None:
    labels = [f"12-{day:02d} 06:00" for day in range(1, 31)]
    root = parse(line_chart(labels, [Series("s", [1.0] * 30)], title="T", x_label="X", y_label="Y", width=370))
    shown = texts(root, "x-tick")
    assert shown[0] == labels[0] and 5 <= len(shown) < 30
    assert all(
        "rotate(-40" in (t.get("transform") or "") for t in root.iter(f"{SVG}text") if t.get("class") == "x-tick"
    )
    long = "x" * 40
    root = parse(chart(labels=[long, "b", "c"]))
    (first, *_) = (t for t in root.iter(f"{SVG}text") if t.get("class") == "x-tick")
    assert first.findtext(f"{SVG}title") == long  # in full in its tooltip
    assert "".join(first.itertext()).endswith("…") and len("".join(first.itertext())) == len(long) + LONGEST_LABEL


def test_the_tick_format_is_the_callers() -> None:
    svg = line_chart(
        ["a", "b"],
        [Series("latency", [0.001, 0.004])],
        title="T",
        x_label="X",
        y_label="ms",
        value_format=lambda seconds: f"{seconds * 1000:g}",
        include_zero=True,
    )
    assert texts(parse(svg), "y-tick") == ["0", "1", "2", "3", "4"]


def test_the_same_numbers_draw_the_same_chart() -> None:
    assert chart() == chart()


def test_series_must_fit_the_labels() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        chart(series=[Series("s", [1.0, 2.0])])
    with pytest.raises(ValueError, match="at least one series"):
        chart(series=[])


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (12, "12"), (1250, "1,250"), (0.125, "0.125"), (0.00125, "0.00125"), (-3.5, "-3.5")]
)
def test_numbers_read_as_a_person_writes_them(value: float, text: str) -> None:
    assert number(value) == text


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False) | st.floats(
    min_value=-1e-305,
    max_value=1e-305,
    allow_nan=False,  # subnormal spans, often
)


@settings(max_examples=200, deadline=None)
@given(finite, finite, st.booleans())
@example(2.2250738585e-313, -2.8e11, False)  # a subnormal beside billions: divided by the step it is 0
@example(0.0, 5e-324, False)  # a span of one subnormal: divided into steps it is 0, which has no log
@example(-5e-324, 0.0, True)
def test_ticks_are_round_even_and_cover_the_values(a: float, b: float, whole: bool) -> None:
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high, whole=whole)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 12
    steps = [y - x for x, y in itertools.pairwise(ticks)]
    step = steps[0]
    assert all(abs(s - step) <= step * 1e-6 for s in steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - nice) for nice in (1, 2, 5, 10)) < 1e-6
    if whole:
        assert step >= 1


def test_ticks_refuse_what_no_axis_can_hold() -> None:
    assert nice_ticks(-LARGEST, LARGEST)[0] <= -LARGEST
    for low, high in ((math.nan, 1.0), (0.0, math.inf), (2.0, 1.0), (0.0, 1e301)):
        with pytest.raises(ValueError):
            nice_ticks(low, high)
    assert re.fullmatch(r"<svg .*No data in this period.*</svg>", str(chart(series=[Series("s", [1e301, None, None])])))
