"""Charts as a supervisor's browser gets them: SVG with a text alternative, nothing a
label can inject, an empty period drawn with a message, bars in proportion."""

from __future__ import annotations

import re

import pytest

from socialdesk_console.charts import Series, bars, duration, hbars, pct

EVIL = '<script>alert("x")</script>'


def _bar_heights(svg: str) -> list[float]:
    return [
        float(h)
        for h in re.findall(
            r'<rect class="s\d" x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)">', svg
        )
    ]


@pytest.mark.parametrize("chart", [bars, hbars])
def test_labels_titles_and_names_are_escaped(chart: object) -> None:
    svg = str(
        chart(  # type: ignore[operator]
            EVIL, [EVIL, "ok"], [Series(EVIL, [3, 4], css='s1" onload="x')], desc=EVIL
        )
    )
    assert "<script" not in svg and 'onload="x"' not in svg
    assert "&lt;script&gt;" in svg
    assert svg.startswith('<svg class="chart" role="img"') and svg.endswith("</svg>")


@pytest.mark.parametrize("chart", [bars, hbars])
def test_an_empty_period_shows_the_message(chart: object) -> None:
    for series in ([Series("Items", [0, 0, None])], [Series("Items", [])], []):
        svg = str(chart("Items by day", ["a", "b", "c"], series, empty_message="Nothing here"))  # type: ignore[operator]
        assert ">Nothing here</text>" in svg
    svg = str(chart("Items by day", [], [], empty_message="Nothing here"))  # type: ignore[operator]
    assert ">Nothing here</text>" in svg
    full = str(chart("Items by day", ["a"], [Series("Items", [2])], empty_message="Nothing here"))  # type: ignore[operator]
    assert "Nothing here" not in full


def test_the_chart_has_a_text_alternative() -> None:
    svg = str(bars("Items by day", ["Mon"], [Series("Items", [5])], desc="Five items on Monday"))
    uid = re.search(r'aria-labelledby="(ct\d+) (cd\d+)"', svg)
    assert uid is not None
    assert f'<title id="{uid.group(1)}">Items by day</title>' in svg
    assert f'<desc id="{uid.group(2)}">Five items on Monday</desc>' in svg
    assert "<title>Mon: Items 5</title>" in svg  # each bar says its value


@pytest.mark.parametrize(("top", "lowest_share"), [(12, 0.5), (150, 0.7), (3, 0.55), (999, 0.99)])
def test_the_tallest_bar_fills_most_of_the_plot(top: float, lowest_share: float) -> None:
    """The axis ends at the next round number above the largest value, not a power of
    ten away (12 used to be drawn against an axis of 100)."""
    plot_h = 260 - 16 - 46
    svg = str(bars("t", ["a", "b"], [Series("n", [top, top / 2])]))
    heights = _bar_heights(svg)
    assert max(heights) >= lowest_share * plot_h
    assert max(heights) <= plot_h
    assert abs(heights[1] - heights[0] / 2) < 0.2  # in proportion


def test_odd_values_do_not_break_the_chart() -> None:
    svg = str(bars("t", ["a", "b", "c"], [Series("n", [float("nan"), float("inf"), 2])]))
    assert "nan" not in svg and "inf" not in svg
    assert len(_bar_heights(svg)) == 1
    assert str(bars("t", ["a"], [Series("n", [1])], y_max=0, label_every=0)).endswith("</svg>")


def test_durations_and_percentages_read_as_an_operator_reads_them() -> None:
    assert duration(None) == "n/a"
    assert duration(45) == "45s"
    assert duration(12 * 60) == "12m"
    assert duration(3.5 * 3600) == "3.5h"
    assert duration(2 * 86400) == "2.0d"
    assert pct(None) == "n/a" and pct(66.66) == "67%"
