"""Server-side SVG charts for the reports pages: no script or style attribute, so a strict CSP passes them."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from html import escape

from chalicelib.domain.durations import duration_text

# What the page's stylesheet may style (a rule on a class wins over the presentation attributes below).
CLASSES = {
    "chart": "every chart's <svg>, with chart-bars, chart-stacked or chart-lines for its kind",
    "chart-empty": "the 'No data for this period' message",
    "chart-frame": "the dashed outline of an empty chart",
    "chart-label": "a category label left of a bar, or an x label under a line chart",
    "chart-value": "a value label after a bar, or the total after a stacked bar",
    "chart-bar": "a bar",
    "chart-track": "the full-scale track behind a bar when max_value is given",
    "chart-segment": "a part of a stacked bar, with chart-series-N (N from 0) for its series",
    "chart-segment-value": "a value label inside a stacked bar's part",
    "chart-axis": "the zero line of the values",
    "chart-grid": "a horizontal grid line of a line chart",
    "chart-tick": "a value label on the y axis",
    "chart-line": "a run of a series without gaps, with chart-series-N",
    "chart-point": "a point of a series, with chart-series-N",
    "chart-legend": "the legend, a <g> of chart-swatch and chart-legend-label items",
    "chart-swatch": "the sample of a series in the legend",
    "chart-legend-label": "the name of a series in the legend",
}
NO_DATA = "No data for this period"

# Okabe-Ito's darker entries and a grey, each paired with the ink its value labels get on it: every fill is at
# least 3:1 against white and every ink at least 4.5:1 against its fill.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0072B2", "#FFFFFF"),
    ("#D55E00", "#000000"),
    ("#009E73", "#000000"),
    ("#CC79A7", "#000000"),
    ("#595959", "#FFFFFF"),
)
MARKERS = ("circle", "square", "diamond", "triangle")  # series differ by shape too, not by colour alone
INK = "#1A1A1A"  # 17:1 on white
MUTED = "#595959"  # 7:1 on white: ticks and secondary text
RULE = "#767676"  # 4.5:1: the zero line
GRID = "#DDDDDD"  # a faint guide, not a mark
TRACK = "#EDEDED"

WIDTH = 480  # viewBox units; the SVG is width="100%", so a text of 15 units stays legible on a phone
FONT = 15
SMALL = 14
PAD = 4
GAP = 6
BAR = 22
ROW = 32
PLOT_HEIGHT = 200
LABEL_SHARE = 0.4  # of the width, at most, for the labels left of the bars

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_WIDTHS = (("iljI.,:;'!| ", 0.31), ("frt()[]", 0.4), ("0123456789", 0.64), ("mwMW@%…", 0.95), ("<>=+~^#&", 0.84))

Format = Callable[[float], str]


# numbers -----------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """45s, 12m, 3h 20m, 2d 4h: the figure the reports' JSON gives as `*_text` (one rule for both)."""
    return duration_text(seconds) or "n/a"


def compact_number(value: float) -> str:
    """1,234 and 4.25 as they are, 12.3k and 1.23M beyond: large numbers must not push the bars aside."""
    if not math.isfinite(value):
        return "n/a"
    if abs(value) < 10_000:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    for scale, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")):
        text = f"{abs(value) / scale:.3g}"
        if float(text) < 1000:
            return f"{'-' if value < 0 else ''}{text}{suffix}"
    return f"{value:.3g}"


def _formatter(value_format: Format | None, unit: str) -> Format:
    shown = value_format or compact_number
    return lambda value: f"{shown(value)}{unit}"


def _nice_step(raw: float) -> float:
    """The round step (1, 2, 2.5 or 5 times a power of ten) nearest above raw, so ticks read as round numbers."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)


def _length(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


# text --------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """A label on one line, without the characters XML cannot carry (a name is user input)."""
    return " ".join(_NOT_XML.sub("", str(text)).split())


def _char_width(char: str) -> float:
    """Ems, after DejaVu Sans, one of the widest sans fonts, so a label fits in the narrower ones too."""
    if unicodedata.combining(char):
        return 0.0
    if unicodedata.east_asian_width(char) in "WF":
        return 1.0
    for chars, width in _WIDTHS:
        if char in chars:
            return width
    return 0.72 if char.isupper() else 0.62


def text_width(text: str, size: float = FONT) -> float:
    """An estimate, a little generous, of the width of a text: the server cannot measure the reader's font."""
    return sum(_char_width(char) for char in text) * size


def _fit(text: str, width: float, size: float = FONT) -> str:
    """The text, or as much as fits before an ellipsis."""
    if text_width(text, size) <= width:
        return text
    budget, used, kept = width - text_width("…", size), 0.0, []
    for char in text:
        used += _char_width(char) * size
        if used > budget:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


# markup ------------------------------------------------------------------------------------------


def _n(number: float) -> str:
    return f"{number:.1f}".removesuffix(".0")


def _el(tag: str, content: str = "", /, **attrs: str | float) -> str:
    """An element; class_ becomes class and underscores hyphens (stroke_width), every value escaped."""
    parts = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(value if isinstance(value, str) else _n(value))}"'
        for name, value in attrs.items()
    )
    return f"<{tag}{parts}>{content}</{tag}>" if content else f"<{tag}{parts}/>"


def _label(text: str, width: float, x: float, y: float, **attrs: str | float) -> str:
    """A label cut to its width; when cut, the whole label is in its <title> for a pointer to show."""
    shown = _fit(text, width, float(attrs.get("font_size", FONT)))
    content = escape(shown) + (_el("title", escape(text)) if shown != text else "")
    return _el("text", content, x=x, y=y, **attrs)


def _svg(chart_id: str, kind: str, title: str, description: str, height: float, body: Sequence[str]) -> str:
    if not _ID.match(chart_id):
        raise ValueError(f"a chart id must be a letter then letters, digits, - or _, not {chart_id!r}")
    head = _el("title", escape(_clean(title)), id=f"{chart_id}-title")
    head += _el("desc", escape(_clean(description)), id=f"{chart_id}-desc")
    return _el(
        "svg",
        head + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        class_=f"chart chart-{kind}",
        role="img",
        aria_labelledby=f"{chart_id}-title {chart_id}-desc",
        viewBox=f"0 0 {WIDTH} {_n(height)}",
        width="100%",
        font_size=FONT,
    )


def _empty(chart_id: str, kind: str, title: str, description: str) -> str:
    dashes: dict[str, str | float] = {"fill": "none", "stroke": GRID, "stroke_width": 2, "stroke_dasharray": "6 4"}
    frame = _el("rect", class_="chart-frame", x=1, y=1, width=WIDTH - 2, height=62, rx=4, **dashes)
    message = _el("text", NO_DATA, class_="chart-empty", x=WIDTH / 2, y=37, text_anchor="middle", fill=MUTED)
    return _svg(chart_id, kind, title, f"{description} {NO_DATA}.", 64, [frame, message])


def _marker(index: int, x: float, y: float, classes: str, content: str = "") -> str:
    """A point of series index: a circle, square, diamond or triangle, so series differ by shape as well."""
    shape, r = MARKERS[index % len(MARKERS)], 4.5
    attrs: dict[str, str | float] = {"fill": PALETTE[index % len(PALETTE)][0], "stroke": "#FFFFFF", "stroke_width": 1.5}
    classes += f" chart-series-{index}"
    if shape == "circle":
        return _el("circle", content, class_=classes, cx=x, cy=y, r=r, **attrs)
    if shape == "square":
        return _el("rect", content, class_=classes, x=x - r, y=y - r, width=2 * r, height=2 * r, **attrs)
    r += 1
    if shape == "diamond":
        points = f"{_n(x)},{_n(y - r)} {_n(x + r)},{_n(y)} {_n(x)},{_n(y + r)} {_n(x - r)},{_n(y)}"
    else:
        points = f"{_n(x)},{_n(y - r)} {_n(x + r)},{_n(y + r * 0.8)} {_n(x - r)},{_n(y + r * 0.8)}"
    return _el("polygon", content, class_=classes, points=points, **attrs)


def _legend(names: Sequence[str], *, lines: bool) -> tuple[str, float]:
    """The series' samples and names in rows that wrap at the chart's width; the markup and its height."""
    items, x, y = [], float(PAD), 12.0
    for index, name in enumerate(names):
        sample = 30 if lines else 18
        width = sample + text_width(_fit(name, WIDTH / 2)) + 16
        if x > PAD and x + width > WIDTH:
            x, y = PAD, y + 24
        colour, classes = PALETTE[index % len(PALETTE)][0], f"chart-swatch chart-series-{index}"
        if lines:
            items.append(_el("line", class_=classes, x1=x, y1=y, x2=x + 24, y2=y, stroke=colour, stroke_width=2.5))
            items.append(_marker(index, x + 12, y, "chart-swatch"))
        else:
            items.append(_el("rect", class_=classes, x=x, y=y - 6, width=12, height=12, fill=colour))
        items.append(_label(name, WIDTH / 2, x + sample, y + FONT * 0.35, class_="chart-legend-label", fill=INK))
        x += width
    return _el("g", "".join(items), class_="chart-legend"), y + 16


# charts ------------------------------------------------------------------------------------------


def _columns(labels: Sequence[str], values: Sequence[str]) -> tuple[float, float, float]:
    """The width of the labels left of the bars, where the bars start, and the longest bar's length: the labels
    take what they need up to LABEL_SHARE, the values after the bars up to a quarter, the bars the rest."""
    label_width = min(max(text_width(label) for label in labels), WIDTH * LABEL_SHARE)
    left = PAD + label_width + GAP
    return label_width, left, WIDTH - PAD - GAP - min(max(text_width(v) for v in values), WIDTH / 4) - left


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    bars: list[tuple[str, float]],
    *,
    unit: str = "",
    value_format: Format | None = None,
    max_value: float | None = None,
) -> str:
    """Horizontal bars, so long agent and status names read in full left of them; the value follows each bar.

    max_value fixes the full length (100 for a percentage), drawn as a track with the values in a column after
    it; else the longest bar is the full length.
    """
    if not bars:
        return _empty(chart_id, "bars", title, description)
    show = _formatter(value_format, unit)
    labels, texts = [_clean(label) for label, _ in bars], [show(value) for _, value in bars]
    fixed = max_value if max_value is not None and max_value > 0 else None
    top = fixed or max(_length(v) for _, v in bars)
    label_width, left, plot = _columns(labels, texts)
    body = []
    for index, ((_, value), label, text) in enumerate(zip(bars, labels, texts, strict=True)):
        y = PAD + index * ROW
        length = plot * min(_length(value) / top, 1) if top else 0.0
        middle = y + BAR / 2 + FONT * 0.35
        if fixed:
            body.append(_el("rect", class_="chart-track", x=left, y=y, width=plot, height=BAR, fill=TRACK))
        tip = _el("title", escape(f"{label}: {text}"))
        body.append(_el("rect", tip, class_="chart-bar", x=left, y=y, width=length, height=BAR, fill=PALETTE[0][0]))
        body.append(_label(label, label_width, left - GAP, middle, class_="chart-label", text_anchor="end", fill=INK))
        after = left + (plot if fixed else length) + GAP
        body.append(_el("text", escape(text), class_="chart-value", x=after, y=middle, fill=INK))
    bottom = PAD + len(bars) * ROW - (ROW - BAR)
    body.append(_el("line", class_="chart-axis", x1=left, y1=PAD - 2, x2=left, y2=bottom + 2, stroke=RULE))
    return _svg(chart_id, "bars", title, description, bottom + PAD, body)


def stacked_bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: list[tuple[str, list[float]]],
    series: list[str],
    *,
    unit: str = "",
    value_format: Format | None = None,
) -> str:
    """Horizontal bars split by series (a status's backlog by priority) under a legend; each part shows its
    value where it fits and names itself to a pointer, and the total follows the bar."""
    for label, values in rows:
        if len(values) != len(series):
            raise ValueError(f"row {label!r} has {len(values)} values for {len(series)} series")
    if not rows or not series:
        return _empty(chart_id, "stacked", title, description)
    show = _formatter(value_format, unit)
    labels, names = [_clean(label) for label, _ in rows], [_clean(name) for name in series]
    totals = [sum(_length(value) for value in values) for _, values in rows]
    legend, legend_height = _legend(names, lines=False)
    label_width, left, plot = _columns(labels, [show(total) for total in totals])
    scale = plot / max(totals) if max(totals) else 0.0
    top, body = legend_height + GAP, [legend]
    for index, ((_, values), label, total) in enumerate(zip(rows, labels, totals, strict=True)):
        y, x = top + index * ROW, left
        middle = y + BAR / 2 + FONT * 0.35
        body.append(_label(label, label_width, left - GAP, middle, class_="chart-label", text_anchor="end", fill=INK))
        for part, (value, name) in enumerate(zip(values, names, strict=True)):
            width, (fill, ink), text = _length(value) * scale, PALETTE[part % len(PALETTE)], show(value)
            if not width:
                continue
            attrs: dict[str, str | float] = {"fill": fill, "stroke": "#FFFFFF", "stroke_width": 1}
            tip, classes = _el("title", escape(f"{label}, {name}: {text}")), f"chart-segment chart-series-{part}"
            body.append(_el("rect", tip, class_=classes, x=x, y=y, width=width, height=BAR, **attrs))
            if text_width(text, SMALL) + GAP <= width:
                attrs = {"x": x + width / 2, "y": middle, "font_size": SMALL, "text_anchor": "middle", "fill": ink}
                body.append(_el("text", escape(text), class_="chart-segment-value", **attrs))
            x += width
        body.append(_el("text", escape(show(total)), class_="chart-value", x=x + GAP, y=middle, fill=INK))
    bottom = top + len(rows) * ROW - (ROW - BAR)
    body.append(_el("line", class_="chart-axis", x1=left, y1=top - 2, x2=left, y2=bottom + 2, stroke=RULE))
    return _svg(chart_id, "stacked", title, description, bottom + PAD, body)


def _ticks(highest: float, fixed: bool, whole: bool) -> list[float]:
    """Round values from 0: up to a fixed top (100 for a percentage), else to the first round value past the
    data. Counts never get a fractional tick."""
    step = _nice_step((highest or 1) / 5)
    if whole:
        step = max(step, 1)
    count = math.floor(highest / step + 1e-9) if fixed else math.ceil(highest / step - 1e-9)
    return [round(i * step, 10) for i in range(max(count, 1) + 1)]


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    x_labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    y_max: float | None = None,
    unit: str = "",
    value_format: Format | None = None,
) -> str:
    """Lines over time with their points; None is a period without a figure and leaves a gap, never a zero.

    y_max fixes the scale (100 for a percentage, 5 for a rating) so two periods compare at a glance.
    """
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
    found = [v for _, values in series for v in values if v is not None and math.isfinite(v)]
    if not x_labels or not found:
        return _empty(chart_id, "lines", title, description)
    show = _formatter(value_format, unit)
    fixed = y_max if y_max is not None and y_max > 0 else None
    ticks = _ticks(fixed or max(0.0, *found), fixed is not None, all(v == int(v) for v in found))
    highest = fixed or ticks[-1]
    labels = [_clean(label) for label in x_labels]
    label_width = min(max(text_width(label, SMALL) for label in labels), 110)
    legend, legend_height = _legend([_clean(name) for name, _ in series], lines=True)
    left = max(PAD + max(text_width(show(t), SMALL) for t in ticks) + GAP, label_width / 2 + PAD)
    right = WIDTH - max(label_width / 2 + PAD, 10)
    top = legend_height + 10
    bottom = top + PLOT_HEIGHT
    count = len(labels)

    def x_of(index: int) -> float:
        return (left + right) / 2 if count == 1 else left + index * (right - left) / (count - 1)

    def y_of(value: float) -> float:
        return bottom - PLOT_HEIGHT * max(0.0, min(value, highest)) / highest

    body = [legend]
    for tick in ticks:
        y = y_of(tick)
        rule = {"class_": "chart-grid", "stroke": GRID} if tick else {"class_": "chart-axis", "stroke": RULE}
        body.append(_el("line", x1=left, y1=y, x2=right, y2=y, **rule))
        attrs: dict[str, str | float] = {"font_size": SMALL, "text_anchor": "end", "fill": MUTED}
        body.append(_el("text", escape(show(tick)), class_="chart-tick", x=left - GAP, y=y + SMALL * 0.35, **attrs))
    capacity = max(1, math.floor((right - left) / (label_width + 12)) + 1)
    every = math.ceil(count / capacity)
    for index in range(0, count, every):
        x = x_of(index)
        body.append(_el("line", class_="chart-axis", x1=x, y1=bottom, x2=x, y2=bottom + 4, stroke=RULE))
        attrs = {"font_size": SMALL, "text_anchor": "middle", "fill": MUTED, "class_": "chart-label"}
        body.append(_label(labels[index], label_width, x, bottom + 6 + SMALL, **attrs))
    dense = count > (right - left) / 12  # too many points to mark each: mark only those standing alone
    for number, (raw_name, values) in enumerate(series):
        name, colour = _clean(raw_name), PALETTE[number % len(PALETTE)][0]
        runs: list[list[tuple[int, float]]] = [[]]  # the points between two gaps
        for index, value in enumerate(values):
            if value is None or not math.isfinite(value):
                runs.append([])
            else:
                runs[-1].append((index, value))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{_n(x_of(i))},{_n(y_of(v))}" for i, v in run)
                attrs = {"fill": "none", "stroke": colour, "stroke_width": 2.5, "stroke_linejoin": "round"}
                body.append(_el("polyline", class_=f"chart-line chart-series-{number}", points=points, **attrs))
            for i, v in run if not dense or len(run) == 1 else []:
                tip = _el("title", escape(f"{labels[i]}, {name}: {show(v)}"))
                body.append(_marker(number, x_of(i), y_of(v), "chart-point", tip))
    return _svg(chart_id, "lines", title, description, bottom + 10 + SMALL + PAD, body)
