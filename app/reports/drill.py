"""Links from a chart's bar or slice to the matching filtered list screen.

FAB list filters are `?_flt_<i>_<column>=<value>`, where <i> is the position of
the filter class in the list FAB builds for that column (for a string column 3
is "equal", for a date 1 is "greater than"). The positions are looked up in the
registered view rather than hard-coded, so they follow FAB's converter.
"""
from __future__ import annotations

from app.lists.links import EQ, GT, IN, LT, filter_index, list_url  # noqa: F401
