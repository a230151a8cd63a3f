"""A plotly-style figure (app.reports.charts) drawn on the server as inline, accessible SVG.

Bars (vertical or horizontal, grouped or stacked), lines (with a second value axis), funnels and
donuts. The drawing is named by its <title> and described by its <desc>; every bar, slice or point
that drills down is an <a href> to its list screen, reached by Tab, named like its tooltip
("Proposal: 1,234 opportunities"). The svg is role="img" when nothing in it is a link, and
role="group" when it holds links (an img's children are presentational: links in it would be hidden
from screen readers, which axe-core reports as nested-interactive). Labels are rotated, thinned or
cut to fit (the full text in a <title>); the numbers themselves are in the table under the chart.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from app.reports.chart_tables import points
from app.web.fragments import Fragments
from app.reports.svg_kit import (FONT, INK, PALETTE, el, formatted, hover_text, is_number, join, label, nice_ticks, num,
                                 readable, short, text_width)

WIDTH = 480
FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
ROTATED_MAX = 120  # px: a rotated category label longer than this is cut (full text in its <title>)
SIDE_MAX = 140  # px: the same for the labels left of horizontal bars
GRID = "#d9d9d9"
AXIS = "#767676"  # 4.5:1 on white


@dataclass
class Mark:
    """One bar, point or slice: its name for people, its link, and its data."""

    category: str
    value: Any
    name: str
    link: str | None


@dataclass
class Series:
    name: str
    kind: str  # bar, line, funnel, pie
    color: str
    marks: list[Mark] = field(default_factory=list)
    secondary: bool = False
    texts: list[str | None] = field(default_factory=list)
    info: str = ""  # a funnel's textinfo: "value+percent initial" or "value+percent previous"


def chart_id(name: str) -> str:
    """A stable id for a chart's title and description (the same chart, the same id: pages can be kept)."""
    return "chart-" + hashlib.sha1(name.encode()).hexdigest()[:10]


def _series(fig: dict) -> list[Series]:
    layout = fig.get("layout") or {}
    traces = fig.get("data") or []
    # traces without a colour of their own take the palette's colours that no trace asked for
    hinted = {readable((t.get("marker") or {}).get("color")) for t in traces
              if isinstance((t.get("marker") or {}).get("color"), str)}
    free = iter([c for c in PALETTE if readable(c) not in hinted])
    out = []
    for index, trace in enumerate(traces):
        kind = trace.get("type", "scatter")
        kind = "line" if kind == "scatter" else kind
        categories, values, axis = points(trace)
        title = ((layout.get(axis) or {}).get("title") or {}) if axis else {}
        series_name = str(trace.get("name") or (title.get("text", "") if isinstance(title, dict) else title) or "")
        links = trace.get("customdata") or []
        texts = list(trace.get("text") or []) if isinstance(trace.get("text"), list) else []
        template = trace.get("hovertemplate")
        spec = "%" if str((layout.get(axis) or {}).get("tickformat", "")).endswith("%") else ","
        marker = trace.get("marker") or {}
        hint = marker.get("color") if isinstance(marker.get("color"), str) else next(free, PALETTE[index % 10])
        series = Series(series_name, kind, readable(hint, 4.5 if kind == "funnel" else 3.0),
                        secondary=trace.get("yaxis") == "y2", texts=texts,
                        info=str(trace.get("textinfo") or ""))
        for i, category in enumerate(categories):
            value = values[i] if i < len(values) else None
            text = texts[i] if i < len(texts) else None
            if template:
                fields = {"x": trace.get("x", [None] * (i + 1))[i] if i < len(trace.get("x") or []) else None,
                          "y": trace.get("y", [])[i] if i < len(trace.get("y") or []) else None,
                          "label": category, "value": value, "text": text}
                name = hover_text(template, fields)
            else:
                name = _("%(category)s: %(value)s %(series)s", category=category, value=formatted(value, spec),
                         series=series_name).strip()
                if text and kind != "funnel":
                    name += f" ({text})"
            link = links[i] if i < len(links) else None
            series.marks.append(Mark(str(category), value, name, link if isinstance(link, str)
                                     and link.startswith("/") else None))
        out.append(series)
    return out


def _mark(shape: Markup, mark: Mark) -> Markup:
    """The shape with its tooltip; wrapped in a link to the list screen when it drills down."""
    if mark.link is None:
        return shape
    return el("a", join([shape, el("title", mark.name)]), href=mark.link, aria_label=mark.name, class_="crm-mark-link")


def _titled(tag: str, mark: Mark, **attrs: Any) -> Markup:
    body = el("title", mark.name) if mark.link is None else ""
    return el(tag, body, class_="crm-mark", **attrs)


def _legend(items: list[tuple[str, str]], top: float) -> tuple[Markup, float]:
    """Swatch and name per series, wrapped over as many rows as needed; (drawing, height)."""
    parts, x, y = [], 10.0, top
    for color, name in items:
        width = min(text_width(name), WIDTH - 40) + 24
        if x + width > WIDTH - 10 and x > 10:
            x, y = 10.0, y + 18
        parts.append(el("rect", x=num(x), y=num(y + 1), width=10, height=10, fill=color))
        parts.append(label(name, WIDTH - 40, x=num(x + 14), y=num(y + 10)))
        x += width
    return el("g", join(parts), class_="crm-legend"), (y - top + 18) if items else 0


def _ticks_width(ticks: list[float], percent: bool) -> float:
    return max(text_width(_tick(t, percent)) for t in ticks)


def _tick(value: float, percent: bool) -> str:
    return formatted(value, ".0%") if percent else short(value)


def _category_labels(categories: list[str], band: float, left: float, top: float) -> tuple[Markup, float]:
    """Labels under vertical bars: level when they fit, else rotated 45 degrees, thinned and cut; (drawing, height)."""
    widest = max((text_width(c) for c in categories), default=0)
    parts = []
    if widest <= band - 4:
        for i, category in enumerate(categories):
            parts.append(el("text", category, x=num(left + band * (i + 0.5)), y=num(top + FONT + 4),
                            text_anchor="middle"))
        return join(parts), FONT + 8
    every = max(1, math.ceil(FONT * 1.25 / (band * math.sqrt(0.5))))
    longest = min(widest, ROTATED_MAX)
    for i, category in enumerate(categories):
        if i % every:
            continue
        x, y = left + band * (i + 0.5) + FONT * 0.35, top + 8
        parts.append(label(category, ROTATED_MAX, x=num(x), y=num(y), text_anchor="end",
                           transform=f"rotate(-45 {num(x)} {num(y)})"))
    return join(parts), longest * math.sqrt(0.5) + FONT + 12


def _cartesian(series: list[Series], layout: dict) -> tuple[Markup, float, str]:
    """Bars and lines on a category axis; (drawing, height, kind of chart for the description)."""
    categories: list[str] = []
    for s in series:
        categories += [m.category for m in s.marks if m.category not in categories]
    bars = [s for s in series if s.kind == "bar"]
    stacked = layout.get("barmode") == "stack" and len(bars) > 1
    primary = [s for s in series if not s.secondary]
    if stacked:
        top_value = max((sum(m.value for s in bars for m in s.marks if m.category == c and is_number(m.value)
                             and m.value > 0) for c in categories), default=0)
    else:
        top_value = max((m.value for s in primary for m in s.marks if is_number(m.value)), default=0)
    y_axis = layout.get("yaxis") or {}
    percent = str(y_axis.get("tickformat", "")).endswith("%")
    ticks = nice_ticks(top_value)
    y2 = layout.get("yaxis2") or {}
    ticks2 = nice_ticks(float((y2.get("range") or [0, 1])[1])) if any(s.secondary for s in series) else []
    title = _axis_title(y_axis)
    left = _ticks_width(ticks, percent) + 10 + (FONT + 6 if title else 0)
    right = _ticks_width(ticks2, True) + 10 if ticks2 else 14
    heading = (layout.get("title") or {}).get("text") if isinstance(layout.get("title"), dict) else None
    top = 14 + (FONT + 10 if heading else 0)
    plot_h = 210.0
    band = (WIDTH - left - right) / max(len(categories), 1)
    # a rotated first label reaches left of its bar by its length / sqrt(2): room for it
    slant = min(max((text_width(c) for c in categories), default=0), ROTATED_MAX) * math.sqrt(0.5)
    if categories and slant > band - 4 and slant - band / 2 + 6 > left:
        left = slant - band / 2 + 6
        band = (WIDTH - left - right) / len(categories)
    labels, labels_h = _category_labels(categories, band, left, top + plot_h)
    legend, legend_h = _legend([(s.color, s.name) for s in series], top + plot_h + labels_h + 6) \
        if len(series) > 1 else (Markup(""), 0)
    height = top + plot_h + labels_h + legend_h + 8

    def y_of(value: float, scale: list[float]) -> float:
        return top + plot_h - plot_h * (value / scale[-1] if scale[-1] else 0)

    parts = [el("text", heading, x=WIDTH / 2, y=FONT + 4, text_anchor="middle", font_weight="bold") if heading else ""]
    for t in ticks:
        parts.append(el("line", x1=num(left), x2=num(WIDTH - right), y1=num(y_of(t, ticks)), y2=num(y_of(t, ticks)),
                        stroke=GRID))
        parts.append(el("text", _tick(t, percent), x=num(left - 6), y=num(y_of(t, ticks) + 4), text_anchor="end"))
    for t in ticks2:
        parts.append(el("text", _tick(t, True), x=num(WIDTH - right + 6), y=num(y_of(t, ticks2) + 4)))
    if title:
        parts.append(label(title, plot_h, x=FONT, y=num(top + plot_h / 2), text_anchor="middle",
                           transform=f"rotate(-90 {FONT} {num(top + plot_h / 2)})"))
    parts.append(el("line", x1=num(left), x2=num(WIDTH - right), y1=num(top + plot_h), y2=num(top + plot_h),
                    stroke=AXIS))
    decoration = el("g", join(parts + [labels, legend]), aria_hidden="true", fill=INK)
    marks = []
    inner = band * 0.8
    width = inner if stacked or not bars else inner / len(bars)
    base = dict.fromkeys(categories, 0.0)
    for n, s in enumerate(bars):
        for i, mark in enumerate(s.marks):
            value = mark.value if is_number(mark.value) else 0
            c = categories.index(mark.category)
            x = left + band * c + band * 0.1 + (0 if stacked else n * width)
            y0 = base[mark.category] if stacked else 0
            y_top, y_bottom = y_of(y0 + value, ticks), y_of(y0, ticks)
            h = max(y_bottom - y_top, 1.5)  # a zero is a sliver: its link still shows its focus
            marks.append(_mark(_titled("rect", mark, x=num(x), y=num(y_bottom - h), width=num(max(width - 1, 1)),
                                       height=num(h), fill=s.color, stroke="#ffffff", stroke_width="0.5"), mark))
            text = s.texts[i] if i < len(s.texts) else None
            if text and not stacked and text_width(str(text), FONT - 2) <= width + band * 0.1:
                marks.append(el("text", text, x=num(x + width / 2), y=num(y_bottom - h - 3), text_anchor="middle",
                                font_size=FONT - 2, fill=INK, aria_hidden="true"))
            if stacked:
                base[mark.category] += value
    for s in series:
        if s.kind != "line":
            continue
        scale = ticks2 if s.secondary else ticks
        xy = [(left + band * (categories.index(m.category) + 0.5), y_of(m.value, scale))
              for m in s.marks if is_number(m.value)]
        marks.append(el("polyline", points=" ".join(f"{num(x)},{num(y)}" for x, y in xy), fill="none",
                        stroke=s.color, stroke_width=2, aria_hidden="true"))
        for mark, (x, y) in zip([m for m in s.marks if is_number(m.value)], xy):
            marks.append(_mark(_titled("circle", mark, cx=num(x), cy=num(y), r=4, fill=s.color,
                                       stroke="#ffffff"), mark))
    kind = _("Line chart") if not bars else _("Stacked bar chart") if stacked else _("Bar chart")
    return join([decoration, el("g", join(marks), class_="crm-marks")]), height, kind


def _axis_title(axis: dict) -> str:
    title = axis.get("title") or {}
    return str(title.get("text", "") if isinstance(title, dict) else title)


def _horizontal(series: list[Series], layout: dict) -> tuple[Markup, float, str]:
    """Horizontal bars (largest on top, as drawn by plotly) or a funnel (bars centred, first on top)."""
    funnel = series[0].kind == "funnel"
    s = series[0]
    marks_in_order = s.marks if funnel else list(reversed(s.marks))
    heading = (layout.get("title") or {}).get("text") if isinstance(layout.get("title"), dict) else None
    top = 10 + (FONT + 10 if heading else 0)
    row = 24.0
    side = min(max((text_width(m.category) for m in marks_in_order), default=0), SIDE_MAX) + 14
    plot_w = WIDTH - side - 16
    top_value = max((m.value for m in marks_in_order if is_number(m.value)), default=0)
    ticks = [] if funnel else nice_ticks(top_value)
    scale = ticks[-1] if ticks else (top_value or 1)
    plot_h = row * len(marks_in_order)
    parts = [el("text", heading, x=WIDTH / 2, y=FONT + 4, text_anchor="middle", font_weight="bold") if heading else ""]
    for t in ticks:
        x = side + plot_w * t / scale
        parts.append(el("line", x1=num(x), x2=num(x), y1=num(top), y2=num(top + plot_h), stroke=GRID))
        parts.append(el("text", short(t), x=num(x), y=num(top + plot_h + FONT + 4), text_anchor="middle"))
    marks = []
    first = next((m.value for m in marks_in_order if is_number(m.value) and m.value), None)
    previous = None
    for i, mark in enumerate(marks_in_order):
        y = top + row * i
        parts.append(label(mark.category, SIDE_MAX, x=num(side - 6), y=num(y + row / 2 + 4), text_anchor="end"))
        value = mark.value if is_number(mark.value) else 0
        w = max(plot_w * value / scale, 1.5)
        x = side + (plot_w - w) / 2 if funnel else side
        marks.append(_mark(_titled("rect", mark, x=num(x), y=num(y + 3), width=num(w), height=num(row - 6),
                                   fill=s.color), mark))
        if funnel:
            base = previous if "percent previous" in s.info else first
            text = formatted(value) + (f" · {formatted(value / base, '.0%')}" if base and "percent" in s.info else "")
            previous = value
            inside = text_width(text, FONT - 1) + 8 <= w
            marks.append(el("text", text, x=num(side + plot_w / 2 if inside else x + w + 4),
                            y=num(y + row / 2 + 4), text_anchor="middle" if inside else "start",
                            fill="#ffffff" if inside else INK, font_size=FONT - 1, aria_hidden="true"))
    height = top + plot_h + (FONT + 12 if ticks else 8)
    decoration = el("g", join(parts), aria_hidden="true", fill=INK)
    return join([decoration, el("g", join(marks), class_="crm-marks")]), height, \
        _("Funnel chart") if funnel else _("Bar chart")


def _arc(cx: float, cy: float, r: float, inner: float, start: float, end: float) -> str:
    """A donut slice from angle `start` to `end` (radians, clockwise from 12 o'clock)."""
    if end - start >= 2 * math.pi - 1e-6:  # a whole ring: two halves (one arc cannot close on itself)
        return _arc(cx, cy, r, inner, start, start + math.pi) + " " + _arc(cx, cy, r, inner, start + math.pi, end)

    def at(radius: float, angle: float) -> str:
        return f"{num(cx + radius * math.sin(angle))},{num(cy - radius * math.cos(angle))}"

    large = 1 if end - start > math.pi else 0
    return (f"M{at(r, start)} A{num(r)},{num(r)} 0 {large} 1 {at(r, end)} "
            f"L{at(inner, end)} A{num(inner)},{num(inner)} 0 {large} 0 {at(inner, start)} Z")


def _pie(series: Series, hole: float) -> tuple[Markup, float, str]:
    """A donut on the left, its legend (name and share) on the right."""
    marks = [m for m in series.marks if is_number(m.value) and m.value > 0]
    total = sum(m.value for m in marks) or 1
    r, legend_x = 100.0, 230.0
    height = max(2 * r + 20, 18 * len(series.marks) + 20)
    cx, cy = 10 + r, height / 2
    slices, legend, angle = [], [], 0.0
    colors = {mark.category: readable(PALETTE[i % len(PALETTE)]) for i, mark in enumerate(series.marks)}
    for mark in marks:
        end = angle + 2 * math.pi * mark.value / total
        slices.append(_mark(_titled("path", mark, d=_arc(cx, cy, r, r * hole, angle, end), fill=colors[mark.category],
                                    stroke="#ffffff", stroke_width=1.5), mark))
        angle = end
    top = (height - 18 * len(series.marks)) / 2
    for i, mark in enumerate(series.marks):
        y = top + 18 * i
        share = formatted((mark.value or 0) / total, ".0%") if is_number(mark.value) else "—"
        legend.append(el("rect", x=legend_x, y=num(y + 3), width=10, height=10, fill=colors[mark.category]))
        legend.append(label(f"{mark.category} ({share})", WIDTH - legend_x - 20, x=legend_x + 16, y=num(y + 12)))
    decoration = el("g", join(legend), aria_hidden="true", fill=INK)
    return join([decoration, el("g", join(slices), class_="crm-marks")]), height, _("Donut chart")


# drawn charts per process: (name, language, the figure's digest) -> svg; drawing one of ~300 marks costs
# tens of milliseconds on a loaded machine, a digest of its figure about half a millisecond
_DRAWN: Fragments[Markup] = Fragments(64)


def svg(fig: dict, name: str) -> Markup:
    """The figure as an inline <svg>, named `name` (the chart's caption); drawn once per content and language."""
    digest = hashlib.sha1(json.dumps(fig, sort_keys=True, default=str).encode()).hexdigest()
    return _DRAWN.get((name, str(get_locale()), digest), lambda: _draw(fig, name))


def _draw(fig: dict, name: str) -> Markup:
    layout = fig.get("layout") or {}
    traces = fig.get("data") or []
    series = _series(fig)
    if series and series[0].kind == "pie":
        drawing, height, kind = _pie(series[0], float(traces[0].get("hole") or 0))
    elif series and (series[0].kind == "funnel" or traces[0].get("orientation") == "h"):
        drawing, height, kind = _horizontal(series, layout)
    elif series:
        drawing, height, kind = _cartesian(series, layout)
    else:
        drawing, height, kind = Markup(""), 40.0, _("Empty chart")
    uid = chart_id(name)
    linked = any(m.link for s in series for m in s.marks)
    count = sum(len(s.marks) for s in series)
    description = _("%(kind)s with %(count)s values; the numbers are in the table under “Show data”.",
                    kind=kind, count=count)
    if linked:
        description += " " + _("Each bar, slice or point opens the records it counts.")
    return el("svg", join([el("title", name, id=f"{uid}-t"), el("desc", description, id=f"{uid}-d"), drawing]),
              xmlns="http://www.w3.org/2000/svg", class_="crm-svg", viewBox=f"0 0 {WIDTH} {num(height)}",
              width=WIDTH, height=num(height), role="group" if linked else "img",
              aria_labelledby=f"{uid}-t", aria_describedby=f"{uid}-d", font_family=FAMILY, font_size=FONT)
