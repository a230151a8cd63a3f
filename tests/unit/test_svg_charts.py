"""The server-drawn SVG charts without a database: contrast, label fitting, names, and nothing the CSP refuses."""
from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_babel import Babel

from app.reports.svg_charts import svg
from app.reports.svg_kit import PALETTE, contrast, fit, readable, text_width

LONG = "Manufacturing and industrial equipment (wholesale)"
FIGURES = {
    "bars": {"data": [{"type": "bar", "x": ["Initial", LONG, "提案阶段的客户"], "y": [3, 1234, 0],
                       "customdata": ["/a?x=1&y=2", "/b", None],
                       "hovertemplate": "%{x}: %{y:,} opportunities<extra></extra>"}],
             "layout": {"yaxis": {"title": {"text": "opportunities"}}}},
    "stack": {"data": [{"type": "bar", "name": n, "x": [f"2026-{m:02d}-01" for m in range(1, 27)],
                        "y": list(range(26)), "marker": {"color": "#9ecae1"}} for n in ("low", "high")],
              "layout": {"barmode": "stack"}},
    "donut": {"data": [{"type": "pie", "labels": ["Retail", "零售", LONG], "values": [5, 3, 2], "hole": 0.35,
                        "customdata": ["/r", "/z", "/l"]}], "layout": {}},
    "funnel": {"data": [{"type": "funnel", "y": ["New", "Qualified"], "x": [10, 4],
                         "textinfo": "value+percent previous"}], "layout": {"title": {"text": "by status"}}},
    "line": {"data": [{"type": "scatter", "mode": "lines+markers", "name": "rate", "x": ["a", "b"], "y": [0.2, 0.5],
                       "yaxis": "y2"}, {"type": "bar", "name": "won", "x": ["a", "b"], "y": [1, 2]}],
             "layout": {"yaxis2": {"range": [0, 1], "tickformat": ".0%"}}},
}


@pytest.fixture(scope="module")
def context():
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield


def test_every_colour_reaches_three_to_one_on_white_and_stays_close_to_its_hint():
    for color in (*PALETTE, "#9ecae1", "#fd8d3c", "#ffffff", "not a colour"):
        assert contrast(readable(color), "#ffffff") >= 3
    assert readable("#1f77b4") == "#1f77b4"  # already dark enough: unchanged
    assert contrast(readable("#fd8d3c", 4.5), "#ffffff") >= 4.5


def test_a_label_is_cut_to_its_width_with_an_ellipsis():
    assert fit("Won", 100) == "Won"
    cut = fit(LONG, 80)
    assert cut.endswith("…") and text_width(cut) <= 80 and LONG.startswith(cut[:-1].rstrip())
    assert text_width("提案") == 2 * text_width("提") > text_width("ab")  # CJK: a full em each


@pytest.mark.parametrize("kind", FIGURES)
def test_each_kind_is_named_linked_and_free_of_inline_styles(context, kind):
    drawn = str(svg(FIGURES[kind], f"Chart {kind}"))
    assert "style" not in drawn and "<script" not in drawn  # presentation attributes only (CSP)
    assert re.search(r'aria-labelledby="chart-\w+-t"', drawn) and f">Chart {kind}</title>" in drawn
    links = re.findall(r'<a href="([^"]*)" aria-label="([^"]*)"', drawn)
    assert (re.search(r'role="group"', drawn) is not None) == bool(links)  # an img may not hold links
    if kind == "bars":
        assert links == [("/a?x=1&amp;y=2", "Initial: 3 opportunities"),
                         ("/b", f"{LONG}: 1,234 opportunities")]
        assert f"<title>{LONG}</title>" in drawn and "…" in drawn  # cut on the axis, whole in its tooltip
    if kind == "donut":
        assert [name for _href, name in links] == ["Retail: 5", "零售: 3", f"{LONG}: 2"]
        assert "Retail (50%)" in drawn
    if kind == "funnel":
        assert "4 · 40%" in drawn  # the percentage of the previous step, as the figure asks
    if kind == "stack":
        fills = set(re.findall(r'<rect class="crm-mark"[^>]* fill="(#\w+)"', drawn))
        assert len(fills) == 1 and contrast(fills.pop(), "#ffffff") >= 3  # #9ecae1 darkened
    if kind == "line":
        assert "100%" in drawn and "<polyline" in drawn
