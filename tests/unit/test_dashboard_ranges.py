"""The dashboard's ranges: each day read once (month rows for whole months, day rows for the rest), and periods."""
from __future__ import annotations

import datetime as dt

import pytest

from app.reports.dashboard_data import spans
from app.reports.dashboard_filters import Filters

D = dt.date


@pytest.mark.parametrize(("start", "end"), [(D(2025, 1, 31), D(2025, 3, 15)), (D(2025, 1, 17), D(2026, 11, 28)),
                                            (D(2025, 1, 1), D(2025, 1, 31)), (D(2025, 1, 5), D(2025, 1, 20)),
                                            (D(2024, 12, 31), D(2025, 2, 28)), (D(2024, 2, 29), D(2024, 2, 29))])
def test_every_day_of_a_range_is_read_once_and_no_other(start, end):
    found = spans(start, end)
    day = start - dt.timedelta(days=40)
    while day <= end + dt.timedelta(days=40):
        month_row = day.day == 1 and found["m0"] <= day < found["m1"]
        by_month = found["m0"] <= day < found["m1"]
        by_day = found["a0"] <= day < found["a1"] or found["b0"] <= day < found["b1"]
        assert by_month + by_day == (1 if start <= day <= end else 0), (day, found)
        assert not month_row or all(start <= day + dt.timedelta(days=k) <= end for k in range(28))
        day += dt.timedelta(days=1)


@pytest.mark.parametrize(("args", "now", "before"), [
    ({"period": "month"}, (D(2026, 12, 1), D(2026, 12, 31)), (D(2026, 11, 1), D(2026, 11, 30))),
    ({"period": "quarter"}, (D(2026, 10, 1), D(2026, 12, 31)), (D(2026, 7, 1), D(2026, 9, 30))),
    ({}, (D(2026, 1, 1), D(2026, 12, 31)), (D(2025, 1, 1), D(2025, 12, 31))),
    ({"from": "2026-03-10", "to": "2026-03-19"}, (D(2026, 3, 10), D(2026, 3, 19)), (D(2026, 2, 28), D(2026, 3, 9)))])
def test_periods_and_the_one_before(args, now, before):
    filters = Filters.from_args(args, D(2026, 12, 7))
    previous = filters.previous()
    assert (filters.start, filters.end) == now and (previous.start, previous.end) == before
