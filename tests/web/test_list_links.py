"""A list's sort and page-size links: the URLs FAB's own filters build, from one pattern per page."""
from __future__ import annotations

import html
import re


def _sort_links(page: str) -> list[str]:
    header = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [html.unescape(u) for u in re.findall(r'<th[^>]*><a href="([^"]+)"', header)]


def _page_size_links(page: str) -> list[str]:
    """The page-size menu's links (named by their size; the pager's numbered links carry a size too)."""
    return [html.unescape(u) for u, _size in re.findall(r'<a href="([^"]*psize_CustomerView=(\d+)(?:&[^"]*)?)">\2</a>', page)]


def _fabs(app, url: str, columns: list[str], sizes: list[int]) -> tuple[list[str], list[str]]:
    """FAB's own link_order and link_page_size answers for a request of `url`."""
    filters = app.appbuilder.template_filters
    with app.test_request_context(url):
        return ([filters.link_order_filter(c, "CustomerView") for c in columns],
                [filters.link_page_size_filter(s, "CustomerView") for s in sizes])


def test_sort_and_page_size_links_are_fabs(app, admin, sql):
    sql("INSERT INTO customers (name, industry, location) SELECT 'C' || g, 'I' || (g % 3), 'L' || g "
        "FROM generate_series(1, 60) g")
    for url in ("/customers/list/", "/customers/list/?_oc_CustomerView=name&_od_CustomerView=asc&psize_CustomerView=25",
                "/customers/list/?_od_CustomerView=desc&page_CustomerView=1"):
        page = admin.get(url).get_data(as_text=True)
        sorts, sizes = _sort_links(page), _page_size_links(page)
        columns = [re.search(r"_oc_CustomerView=(\w+)", s).group(1) for s in sorts]
        shown = [int(re.search(r"psize_CustomerView=(\d+)", s).group(1)) for s in sizes]  # FAB's macro picks them
        assert len(columns) >= 4 and len(shown) >= 2, url
        assert (sorts, sizes) == _fabs(app, url, columns, shown), url


def test_a_page_whose_arguments_hold_the_placeholder_gets_fabs_links(app, admin, sql):
    from app.lists.sort_links import PLACEHOLDER

    sql(f"INSERT INTO customers (name) SELECT '{PLACEHOLDER} ' || g FROM generate_series(1, 60) g")
    url = f"/customers/list/?q={PLACEHOLDER}"
    page = admin.get(url).get_data(as_text=True)
    sorts, sizes = _sort_links(page), _page_size_links(page)
    columns = [re.search(r"_oc_CustomerView=(\w+)", s).group(1) for s in sorts]
    shown = [int(re.search(r"psize_CustomerView=(\d+)", s).group(1)) for s in sizes]
    assert columns and shown and all(f"q={PLACEHOLDER}" in s for s in sorts + sizes)
    assert (sorts, sizes) == _fabs(app, url, columns, shown)
