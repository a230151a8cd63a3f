"""A list page's rows (app/lists/rows.py): a column's repeated values read as each value alone would."""
from __future__ import annotations

import re
from decimal import Decimal

from flask import Flask
from flask_babel import Babel

from app.lists.rows import list_rows


class Owner:
    """A related row: named by its formatter, equal to no other."""

    def __init__(self, name: str) -> None:
        self.name = name


def _cells(items: list[dict], formatter) -> list[str]:
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context("/"):
        html = list_rows(items, list(range(len(items))), ["v"], {"v": formatter}, checkboxes=False,
                         show_url=None, edit_url=None, delete_url=None)
    return re.findall(r"<td>(.*?)</td>", str(html))


def test_repeated_values_are_formatted_once_and_read_as_each_alone():
    calls: list = []

    def label(value):
        calls.append(value)
        return f"<{value}>" if isinstance(value, str) else getattr(value, "name", value)

    first, second = Owner("Ann"), Owner("Ann")  # equal names, two rows: each formatted on its own
    values = ["a", "b", "a", 7, 7, None, first, first, second, Decimal("1.5"), Decimal("1.50"), "a"]
    cells = _cells([{"v": v} for v in values], label)
    assert cells == ["&lt;a&gt;", "&lt;b&gt;", "&lt;a&gt;", "7", "7", "", "Ann", "Ann", "Ann", "1.50", "1.50",
                     "&lt;a&gt;"]
    assert calls.count("a") == 1 and calls.count(7) == 1 and None not in calls
    assert sum(c is first for c in calls) == 1 and sum(c is second for c in calls) == 1
    assert sum(isinstance(c, Decimal) for c in calls) == 2  # equal Decimals may read apart: never shared


def test_a_decimal_formatter_keeps_each_values_own_digits():
    cells = _cells([{"v": Decimal("1.5")}, {"v": Decimal("1.50")}, {"v": Decimal("1.500")}], str)
    assert cells == ["1.5", "1.50", "1.500"]
