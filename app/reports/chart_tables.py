"""A chart's numbers as a data table: one row per bar, slice or point, one column per series.

The table is what keyboard and screen-reader users read beside the drawing (issue 26):
every cell of a point that the chart drills down from links to the same list screen (`customdata`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _

from app.csv_io.cells import cell
from app.reports.charts import Figure


@dataclass
class Cell:
    """One number of the chart, as text, with the list screen its bar or slice opens (if any)."""

    text: str
    link: str | None = None
    value: Any = None  # the number itself (the CSV export's cell)


@dataclass
class DataTable:
    """Rows of (category, cells), under a header of (category heading, series names)."""

    name: str
    category: str
    series: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)


def _axis_title(layout: dict, axis: str) -> str:
    title = (layout.get(axis) or {}).get("title") or {}
    return title.get("text", "") if isinstance(title, dict) else str(title)


def _number(value: Any, percent: bool) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if percent:
        return format_percent(value, "#,##0%")
    return format_decimal(value, "#,##0" if float(value).is_integer() else "#,##0.00")


def points(trace: dict) -> tuple[list, list, str]:
    """(categories, values, value axis) of one trace, whatever its type and orientation."""
    kind = trace.get("type", "scatter")
    if kind == "pie":
        return list(trace.get("labels", [])), list(trace.get("values", [])), ""
    if kind == "funnel" or trace.get("orientation") == "h":
        return list(trace.get("y", [])), list(trace.get("x", [])), "xaxis" + trace.get("xaxis", "x")[1:]
    return list(trace.get("x", [])), list(trace.get("y", [])), "yaxis" + trace.get("yaxis", "y")[1:]


def data_table(fig: Figure, name: str = "") -> DataTable:
    """The figure's numbers: categories in the order they first appear, a column per trace."""
    layout = fig.get("layout", {})
    traces = fig.get("data", [])
    table = DataTable(name=name, category=_("Category"))
    columns: list[dict[str, Cell]] = []
    order: list[str] = []
    for trace in traces:
        categories, values, axis = points(trace)
        percent = bool(axis) and str((layout.get(axis) or {}).get("tickformat", "")).endswith("%")
        links = trace.get("customdata") or []
        heading = trace.get("name") or (axis and _axis_title(layout, axis)) or _("Value")
        table.series.append(str(heading))
        column: dict[str, Cell] = {}
        for i, category in enumerate(categories):
            key = str(category)
            if key not in column and key not in order:
                order.append(key)
            link = links[i] if i < len(links) else None
            value = values[i] if i < len(values) else None
            column[key] = Cell(_number(value, percent), link if isinstance(link, str) and link.startswith("/") else None,
                               value)
        columns.append(column)
    table.rows = [(key, [column.get(key, Cell("—")) for column in columns]) for key in order]
    return table


def csv_rows(table: DataTable) -> tuple[list[str], list[list[str]]]:
    """The table as a CSV header (in the user's language) and rows of plain numbers."""
    header = [table.category, *table.series]
    return [cell(h) for h in header], [[cell(label), *(cell(c.value) for c in cells)] for label, cells in table.rows]
