"""The report charts: well-formed SVG a strict CSP accepts, labelled for screen readers, honest to the data."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from chalicelib.web.charts import (
    CLASSES,
    INK,
    MUTED,
    NO_DATA,
    PALETTE,
    WIDTH,
    bar_chart,
    compact_number,
    human_duration,
    line_chart,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "Bob"'
LONG = "Dmitri Aleksandrovich Konstantinopolsky-Vanderbilt of the Second-Line Escalations Team"
WEEKS = ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
ROOT = Path(__file__).resolve().parents[2]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - the module's own output, not outside input


def find(root: ET.Element, tag: str, css_class: str | None = None) -> list[ET.Element]:
    found = root.iter(SVG + tag)
    return [e for e in found if css_class is None or css_class in e.get("class", "").split()]


def text_of(element: ET.Element) -> str:
    """The text an element shows, without the <title> a pointer reveals."""
    return element.text or ""


def tip_of(element: ET.Element) -> str | None:
    title = element.find(SVG + "title")
    return None if title is None else title.text


def bars_of(svg: str) -> list[float]:
    return [float(rect.get("width", "")) for rect in find(parse(svg), "rect", "chart-bar")]


def contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def every_kind_of_chart() -> list[str]:
    return [
        bar_chart("workload", "Open tickets per agent", "By assignee.", [("Bob", 12), (HOSTILE, 3), (LONG, 0)]),
        bar_chart("sla", "Compliance", "Met share.", [("High", 95.5), ("Low", 61)], unit="%", max_value=100),
        bar_chart("dwell", "Time in status", "Median.", [("Waiting", 187_200)], value_format=human_duration),
        bar_chart("none", "Open tickets per team", "By team.", []),
        stacked_bar_chart(
            "backlog", "Backlog", "By priority.", [("Submitted", [2, 5]), (LONG, [0, 1])], ["High", HOSTILE]
        ),
        stacked_bar_chart("no-backlog", "Backlog", "By priority.", [], ["High"]),
        line_chart("weeks", "SLA per week", "Per priority.", WEEKS, [("High", [90, None, 80, 85, None])], y_max=100),
        line_chart("csat", "Satisfaction", "Average.", [HOSTILE], [(HOSTILE, [4.5])], y_max=5),
        line_chart("gaps", "Satisfaction", "Average.", WEEKS, [("All", [None] * 5)]),
    ]


# safe to embed -----------------------------------------------------------------------------------


@pytest.mark.parametrize("svg", every_kind_of_chart())
def test_every_chart_is_well_formed_svg_without_style_or_script(svg: str) -> None:
    root = parse(svg)
    assert root.tag == SVG + "svg"
    for element in root.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert element.tag not in (SVG + "style", SVG + "script", SVG + "foreignObject")
    assert "<script" not in svg
    assert "<style" not in svg


@pytest.mark.parametrize("svg", every_kind_of_chart())
def test_every_chart_is_an_image_labelled_by_its_title_and_description(svg: str) -> None:
    root = parse(svg)
    assert root.get("role") == "img"
    ids = (root.get("aria-labelledby") or "").split()
    children = list(root)
    assert [children[0].tag, children[1].tag] == [SVG + "title", SVG + "desc"]
    assert ids == [children[0].get("id"), children[1].get("id")]
    assert children[0].text
    assert children[1].text


@pytest.mark.parametrize("svg", every_kind_of_chart())
def test_every_chart_scales_to_the_width_of_the_page(svg: str) -> None:
    root = parse(svg)
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert (root.get("viewBox") or "").startswith(f"0 0 {WIDTH} ")


def test_two_charts_on_one_page_have_ids_of_their_own() -> None:
    ids = [element.get("id") for svg in every_kind_of_chart() for element in parse(svg).iter() if element.get("id")]
    assert len(ids) == len(set(ids))
    assert "workload-title" in ids
    assert "workload-desc" in ids


@pytest.mark.parametrize("chart_id", ["", "1st", "a b", 'x" onload="alert(1)', "<a>"])
def test_a_chart_id_that_is_not_a_plain_name_is_refused(chart_id: str) -> None:
    with pytest.raises(ValueError, match="chart id"):
        bar_chart(chart_id, "Title", "Description", [("Bob", 1)])


def test_a_bar_chart_escapes_an_agent_name() -> None:
    svg = bar_chart("workload", "Open tickets per agent", "By assignee.", [(HOSTILE, 3)])
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Bob&quot;" in svg
    (bar,) = find(parse(svg), "rect", "chart-bar")
    assert tip_of(bar) == f"{HOSTILE}: 3"


def test_a_stacked_bar_chart_escapes_names_of_rows_and_series() -> None:
    svg = stacked_bar_chart("backlog", "Backlog", "By priority.", [(HOSTILE, [1, 2])], ["High", HOSTILE])
    assert "<script>" not in svg
    root = parse(svg)
    assert [tip_of(t) or text_of(t) for t in find(root, "text", "chart-legend-label")] == ["High", HOSTILE]
    assert tip_of(find(root, "rect", "chart-segment")[1]) == f"{HOSTILE}, {HOSTILE}: 2"


def test_a_line_chart_escapes_series_names_and_x_labels() -> None:
    svg = line_chart("csat", "Satisfaction", "Average.", [HOSTILE], [(HOSTILE, [4.5])], y_max=5)
    assert "<script>" not in svg
    (point,) = find(parse(svg), "circle", "chart-point")
    assert tip_of(point) == f"{HOSTILE}, {HOSTILE}: 4.5"


def test_a_title_and_description_are_escaped_too() -> None:
    root = parse(bar_chart("t", HOSTILE, f"For {HOSTILE}.", [("Bob", 1)]))
    assert root.findtext(SVG + "title") == HOSTILE
    assert root.findtext(SVG + "desc") == f"For {HOSTILE}."


def test_characters_xml_cannot_carry_are_left_out_of_a_name() -> None:
    svg = bar_chart("workload", "Open tickets", "By agent.", [("Bob\x00\x1b\ud800 Smith\nJr", 2)])
    (label,) = find(parse(svg), "text", "chart-label")
    assert text_of(label) == "Bob Smith Jr"


# readable ----------------------------------------------------------------------------------------


def test_every_colour_stands_out_from_white_and_its_value_labels_from_it() -> None:
    for fill, ink in PALETTE:
        assert contrast(fill, "#FFFFFF") >= 3
        assert contrast(ink, fill) >= 4.5
    assert contrast(INK, "#FFFFFF") >= 4.5
    assert contrast(MUTED, "#FFFFFF") >= 4.5


@pytest.mark.parametrize("svg", every_kind_of_chart())
def test_every_text_outside_a_bar_reads_against_white(svg: str) -> None:
    for text in find(parse(svg), "text"):
        if "chart-segment-value" not in text.get("class", ""):
            assert contrast(text.get("fill", ""), "#FFFFFF") >= 4.5


def test_every_class_a_chart_uses_is_listed_for_the_stylesheet() -> None:
    used = {name for svg in every_kind_of_chart() for e in parse(svg).iter() for name in e.get("class", "").split()}
    listed = set(CLASSES) | {"chart-bars", "chart-stacked", "chart-lines"}
    assert {re.sub(r"^chart-series-\d+$", "chart-series-N", name) for name in used} - listed == {"chart-series-N"}
    assert all(name.startswith("chart") for name in used)


def test_a_long_label_is_truncated_with_an_ellipsis_but_kept_whole_in_a_title() -> None:
    root = parse(bar_chart("workload", "Open tickets", "By agent.", [(LONG, 4), ("Bob", 2)]))
    long_label, short_label = find(root, "text", "chart-label")
    assert text_of(long_label).endswith("…")
    assert LONG.startswith(text_of(long_label)[:-1])
    assert len(text_of(long_label)) < len(LONG)
    assert tip_of(long_label) == LONG
    assert tip_of(find(root, "rect", "chart-bar")[0]) == f"{LONG}: 4"
    assert text_of(short_label) == "Bob"
    assert tip_of(short_label) is None


def test_a_long_label_leaves_most_of_the_width_to_the_bars() -> None:
    root = parse(bar_chart("workload", "Open tickets", "By agent.", [(LONG, 4)]))
    (bar,) = find(root, "rect", "chart-bar")
    assert float(bar.get("x", "")) < WIDTH / 2
    assert float(bar.get("width", "")) > WIDTH / 3


# bars --------------------------------------------------------------------------------------------


def test_bar_lengths_are_proportional_to_the_values() -> None:
    widths = bars_of(bar_chart("workload", "Open tickets", "By agent.", [("Bob", 12), ("Cara", 3), ("Dan", 6)]))
    assert widths[0] > 0
    assert widths[1] / widths[0] == pytest.approx(3 / 12, abs=0.01)
    assert widths[2] / widths[0] == pytest.approx(6 / 12, abs=0.01)


def test_every_bar_shows_its_value_after_it() -> None:
    root = parse(bar_chart("workload", "Open tickets", "By agent.", [("Bob", 12), ("Cara", 3)]))
    assert [text_of(t) for t in find(root, "text", "chart-value")] == ["12", "3"]
    for bar, value in zip(find(root, "rect", "chart-bar"), find(root, "text", "chart-value"), strict=True):
        assert float(value.get("x", "")) > float(bar.get("x", "")) + float(bar.get("width", ""))


def test_a_fixed_maximum_sets_the_full_length_and_draws_it_as_a_track() -> None:
    svg = bar_chart("sla", "Compliance", "Met.", [("High", 50), ("Low", 25), ("Over", 140)], unit="%", max_value=100)
    root = parse(svg)
    tracks = [float(t.get("width", "")) for t in find(root, "rect", "chart-track")]
    assert len(tracks) == 3
    assert bars_of(svg) == pytest.approx([tracks[0] / 2, tracks[0] / 4, tracks[0]], abs=0.1)
    assert [text_of(t) for t in find(root, "text", "chart-value")] == ["50%", "25%", "140%"]


def test_zeros_draw_no_length_but_still_show_their_value() -> None:
    svg = bar_chart("reopened", "Reopened", "By agent.", [("Bob", 0), ("Cara", 0)])
    assert bars_of(svg) == [0, 0]
    assert [text_of(t) for t in find(parse(svg), "text", "chart-value")] == ["0", "0"]


def test_a_value_format_and_a_unit_shape_the_value_labels() -> None:
    svg = bar_chart(
        "dwell", "Time in status", "Median.", [("Waiting", 187_200), ("New", 45)], value_format=human_duration
    )
    assert [text_of(t) for t in find(parse(svg), "text", "chart-value")] == ["2d 4h", "45s"]
    svg = bar_chart("open", "Open", "By team.", [("Support", 4)], unit=" tickets")
    assert [text_of(t) for t in find(parse(svg), "text", "chart-value")] == ["4 tickets"]


def test_large_numbers_are_shortened_in_the_labels() -> None:
    svg = bar_chart("handled", "Handled", "By team.", [("Desk", 12_345_678), ("A", 1_234_567), ("B", 9_999)])
    assert [text_of(t) for t in find(parse(svg), "text", "chart-value")] == ["12.3M", "1.23M", "9,999"]
    assert bars_of(svg)[1] / bars_of(svg)[0] == pytest.approx(1_234_567 / 12_345_678, abs=0.01)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (7, "7"),
        (4.25, "4.25"),
        (97.5, "97.5"),
        (9_999, "9,999"),
        (12_345, "12.3k"),
        (999_999, "1M"),
        (1_234_567, "1.23M"),
        (2_500_000_000, "2.5B"),
        (-12_345, "-12.3k"),
        (float("nan"), "n/a"),
    ],
)
def test_a_number_is_shown_compactly(value: float, shown: str) -> None:
    assert compact_number(value) == shown


@pytest.mark.parametrize(
    "chart",
    [
        bar_chart("a", "Open tickets", "By agent.", []),
        stacked_bar_chart("b", "Backlog", "By priority.", [], ["High", "Low"]),
        stacked_bar_chart("c", "Backlog", "By priority.", [], []),
        line_chart("d", "SLA", "Per week.", [], []),
        line_chart("e", "SLA", "Per week.", WEEKS, [("High", [None] * 5)]),
        line_chart("f", "SLA", "Per week.", WEEKS, []),
    ],
)
def test_empty_data_renders_the_no_data_message(chart: str) -> None:
    root = parse(chart)
    assert [text_of(t) for t in find(root, "text")] == [NO_DATA]
    assert NO_DATA in (root.findtext(SVG + "desc") or "")
    assert find(root, "rect", "chart-bar") == []
    assert find(root, "polyline") == []


# stacked bars ------------------------------------------------------------------------------------


def test_a_stacked_bar_splits_its_length_among_the_series_in_proportion() -> None:
    svg = stacked_bar_chart(
        "backlog", "Backlog", "By priority.", [("New", [2, 6, 0]), ("Open", [4, 0, 0])], ["U", "H", "L"]
    )
    segments = find(parse(svg), "rect", "chart-segment")
    widths = [float(s.get("width", "")) for s in segments]
    assert len(widths) == 3  # the zeros take no room
    assert widths[1] / widths[0] == pytest.approx(3, abs=0.01)
    assert widths[2] / widths[0] == pytest.approx(2, abs=0.01)
    assert float(segments[1].get("x", "")) == pytest.approx(float(segments[0].get("x", "")) + widths[0], abs=0.1)
    assert [s.get("class") for s in segments] == [f"chart-segment chart-series-{n}" for n in (0, 1, 0)]


def test_a_stacked_bar_shows_its_total_and_the_parts_that_fit() -> None:
    svg = stacked_bar_chart("backlog", "Backlog", "By priority.", [("New", [1, 60])], ["High", "Low"])
    root = parse(svg)
    assert [text_of(t) for t in find(root, "text", "chart-value")] == ["61"]
    assert [text_of(t) for t in find(root, "text", "chart-segment-value")] == ["60"]
    assert [tip_of(s) for s in find(root, "rect", "chart-segment")] == ["New, High: 1", "New, Low: 60"]


def test_a_stacked_bar_names_every_series_in_a_legend_with_its_colour() -> None:
    series = ["Urgent", "High", "Medium", "Low", "Planning", "Someday"]
    root = parse(stacked_bar_chart("backlog", "Backlog", "By priority.", [("New", [1] * 6)], series))
    assert [text_of(t) for t in find(root, "text", "chart-legend-label")] == series
    swatches = [s.get("fill") for s in find(root, "rect", "chart-swatch")]
    assert swatches[:5] == [fill for fill, _ in PALETTE]
    assert swatches[5] == PALETTE[0][0]


def test_a_row_with_the_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 series"):
        stacked_bar_chart("backlog", "Backlog", "By priority.", [("New", [1, 2])], ["U", "H", "L"])


# lines -------------------------------------------------------------------------------------------


def points_of(line: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in (line.get("points") or "").split())]


def test_gaps_break_a_line_into_separate_segments() -> None:
    values: list[float | None] = [90, 95, None, 80, 85, 70, None, None, 60, 65]
    labels = [f"W{n}" for n in range(10)]
    root = parse(line_chart("sla", "SLA", "Per week.", labels, [("High", values)], y_max=100))
    lines = find(root, "polyline", "chart-line")
    assert [len(points_of(line)) for line in lines] == [2, 3, 2]
    assert len(find(root, "circle", "chart-point")) == 7  # no point for a week without a figure


def test_a_point_between_two_gaps_is_still_drawn() -> None:
    root = parse(line_chart("sla", "SLA", "Per week.", WEEKS, [("High", [None, 80, None, None, None])], y_max=100))
    assert find(root, "polyline") == []
    (point,) = find(root, "circle", "chart-point")
    assert tip_of(point) == "9 Nov, High: 80"


def test_a_single_week_is_drawn_in_the_middle() -> None:
    root = parse(line_chart("sla", "SLA", "One week.", ["23 Nov"], [("High", [88])], y_max=100, unit="%"))
    (point,) = find(root, "circle", "chart-point")
    assert float(point.get("cx", "")) == pytest.approx(WIDTH / 2, abs=20)
    assert tip_of(point) == "23 Nov, High: 88%"


def test_higher_values_are_drawn_higher_and_in_proportion() -> None:
    root = parse(line_chart("sla", "SLA", "Per week.", WEEKS[:3], [("High", [0, 50, 100])], y_max=100))
    (line,) = find(root, "polyline", "chart-line")
    (x0, y0), (x1, y1), (x2, y2) = points_of(line)
    assert x0 < x1 < x2
    assert y0 > y1 > y2
    assert y0 - y1 == pytest.approx(y1 - y2, abs=0.1)


def test_a_fixed_top_gives_round_ticks_up_to_it() -> None:
    percent = parse(line_chart("sla", "SLA", "Weekly.", WEEKS, [("High", [90] * 5)], y_max=100, unit="%"))
    assert [text_of(t) for t in find(percent, "text", "chart-tick")] == ["0%", "20%", "40%", "60%", "80%", "100%"]
    rating = parse(line_chart("csat", "Rating", "Weekly.", WEEKS, [("All", [4.2, 4.5, None, 3.8, 5])], y_max=5))
    assert [text_of(t) for t in find(rating, "text", "chart-tick")] == ["0", "1", "2", "3", "4", "5"]


def test_ticks_rise_past_the_data_to_a_round_value() -> None:
    root = parse(line_chart("in", "Arrivals", "Daily.", WEEKS, [("In", [1_200_000, 2_100_000, 0, 5, 9])]))
    assert [text_of(t) for t in find(root, "text", "chart-tick")] == ["0", "500k", "1M", "1.5M", "2M", "2.5M"]
    counts = parse(line_chart("in", "Arrivals", "Daily.", WEEKS, [("In", [0, 1, 0, 0, 2])]))
    assert [text_of(t) for t in find(counts, "text", "chart-tick")] == ["0", "1", "2"]  # no half tickets
    zeros = parse(line_chart("in", "Arrivals", "Daily.", WEEKS, [("In", [0] * 5)]))
    assert [text_of(t) for t in find(zeros, "text", "chart-tick")] == ["0", "1"]


def test_many_x_labels_are_thinned_so_they_do_not_overlap() -> None:
    days = [f"{n} Nov" for n in range(1, 31)] + [f"{n} Dec" for n in range(1, 32)]
    root = parse(line_chart("in", "Arrivals", "Daily.", days, [("In", [n % 7 for n in range(61)])]))
    shown = [text_of(t) for t in find(root, "text", "chart-label")]
    assert 3 <= len(shown) <= 10
    assert shown[0] == "1 Nov"
    xs = [float(t.get("x", "")) for t in find(root, "text", "chart-label")]
    assert min(b - a for a, b in pairwise(xs)) > 50


def test_few_x_labels_are_all_shown() -> None:
    root = parse(line_chart("sla", "SLA", "Weekly.", WEEKS, [("High", [90] * 5)], y_max=100))
    assert [text_of(t) for t in find(root, "text", "chart-label")] == WEEKS


def test_series_differ_by_marker_shape_as_well_as_colour_and_are_named_in_the_legend() -> None:
    series: list[tuple[str, list[float | None]]] = [(name, [1, 2]) for name in ("Urgent", "High", "Medium", "Low")]
    root = parse(line_chart("sla", "SLA", "Weekly.", WEEKS[:2], series))
    assert [text_of(t) for t in find(root, "text", "chart-legend-label")] == ["Urgent", "High", "Medium", "Low"]
    points = [e for e in root.iter() if "chart-point" in e.get("class", "")]
    shapes = {e.get("class", "").split()[-1]: e.tag.removeprefix(SVG) for e in points}
    assert shapes == {
        "chart-series-0": "circle",
        "chart-series-1": "rect",
        "chart-series-2": "polygon",
        "chart-series-3": "polygon",
    }
    corners = {
        e.get("class", "").split()[-1]: len(e.get("points", "").split()) for e in points if e.tag == SVG + "polygon"
    }
    assert corners == {"chart-series-2": 4, "chart-series-3": 3}  # a diamond and a triangle
    lines = find(root, "polyline", "chart-line")
    assert len({line.get("stroke") for line in lines}) == 4


def test_a_series_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="3 values for 5 labels"):
        line_chart("sla", "SLA", "Weekly.", WEEKS, [("High", [1, 2, 3])])


# durations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (45, "45s"),
        (59.4, "59s"),
        (59.6, "1m"),
        (720, "12m"),
        (3_599, "1h"),
        (3_600, "1h"),
        (12_000, "3h 20m"),
        (86_399, "1d"),
        (86_400, "1d"),
        (187_200, "2d 4h"),
        (30 * 86_400 + 3_600, "30d 1h"),
        (-90, "-2m"),
    ],
)
def test_a_duration_reads_in_its_two_largest_units(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


# cost --------------------------------------------------------------------------------------------


def test_the_charts_import_nothing_but_the_standard_library() -> None:
    probe = (
        "import sys; before = set(sys.modules); import chalicelib.web.charts; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    outside = set(loaded.stdout.split()) - set(sys.stdlib_module_names) - {"chalicelib"}
    assert outside == set()
