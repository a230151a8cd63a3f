"""A list page's rows as HTML, built in Python: the page's hot loop (25 rows x columns).

FAB's Jinja loop translated labels and built three URLs through the router per row,
then called a formatter per cell; at scale the rows were a large share of a list page's time
(docs/performance.md).
Here labels and URL patterns come once per page and each cell is one escape().
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from flask import Flask
from markupsafe import Markup, escape

from app.i18n.formatting import CellFormats, cell_text, show_value
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.lists.sort_links import init_sort_links

BUTTON = ('<a href="{href}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" '
          'title="{title}"><span class="sr-only">{text}</span><i class="fa {icon}"></i></a>')
DELETE = ('<a id="btn-delete-{href}" href="#" class="btn btn-sm btn-default confirm crm-row-delete" rel="tooltip" '
          'title="{title}" data-href="{href}"{confirm}><span class="sr-only">{text}</span>'
          '<i class="fa fa-trash"></i></a>')
LINK = '<a class="crm-title-link" href="{href}">{text}</a>'  # the title column opens the record
# markupsafe's escape of a plain str, without making a Markup per cell (a page has about 250 cells)
HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _prefix(url: str | None) -> str | None:
    """'/customers/show/0' -> '/customers/show/' (the pattern is built with key 0)."""
    return url[:-1] if url else None


def _renderer(formatter: Callable[[Any], Any] | None, cells: CellFormats) -> Callable[[Any], Any]:
    """value -> the cell's text: `cells(formatter(value))`, the formatter skipped for no value.

    The derived screens' formatter of a plain column is show_value (the users list's cell_text),
    which looked the language up again per cell; folded here into the page's CellFormats
    (either of them then cell_text: empty for no value and for "", else the value's text).
    """
    if formatter is None:
        return cells
    if formatter is show_value or formatter is cell_text:
        return lambda value: "" if value is None or (value.__class__ is str and not value) else cells(value)
    # A screen's formatter (a choice's label, an owner's name, a band) is a function of its value, and a
    # column repeats values (an industry, a rep's own name on every row): each value's text is made once
    # a page. A text or a number is found by its value; anything else (a related row) by identity, never
    # by equality (Decimal("1.5") == Decimal("1.50") reads apart), the value kept so its id stays its own.
    texts: dict[Any, Any] = {}
    objects: dict[int, tuple[Any, Any]] = {}

    def render(value: Any) -> Any:
        if value is None:
            return cells(None)
        kind = value.__class__
        if kind is str or kind is int:
            text = texts.get(value)
            if text is None:
                text = texts[value] = cells(formatter(value))
            return text
        found = objects.get(id(value))
        if found is None:
            found = objects[id(value)] = (cells(formatter(value)), value)
        return found[0]
    return render


def list_rows(items: Sequence[Mapping[str, Any]], pks: Sequence[Any], columns: Sequence[str],
              formatters: Mapping[str, Callable[[Any], Any]], *, checkboxes: bool, show_url: str | None,
              edit_url: str | None, delete_url: str | None, back: str = "", link_columns: Sequence[str] = (),
              confirms: Iterable[str] = (), labels: Mapping[str, Any] | None = None) -> Markup:
    """<tr>s: an optional action checkbox, show/edit/delete buttons, then one <td> per column.

    `link_columns` open the record (show page); `confirms`, per row, the delete's question naming
    it; `labels` name each cell (data-label) for the narrow screens' stacked cards.
    """
    show, edit, delete = _prefix(show_url), _prefix(edit_url), _prefix(delete_url)
    formats = CellFormats()  # the language and time zone once for the page, not per cell
    back = str(escape(back))
    show_b = escape(_("Show record")), escape(_("Show"))
    edit_b = escape(_("Edit record")), escape(_("Edit"))
    delete_b = escape(_("Delete record")), escape(_("Delete"))
    select = _("Select %(row)s")  # formatted per row below
    cells = [(c, _renderer(formatters.get(c), formats), c in link_columns and show is not None,
              f' data-label="{escape(labels[c])}"' if labels and c in labels else "") for c in columns]
    questions = list(confirms) if delete else []  # made as read (a screen's generator): none without delete
    questions += [""] * (len(pks) - len(questions))
    out: list[str] = []
    for item, pk, question in zip(items, pks, questions):
        # plain str escaped by translate (escape()'s text, without a Markup per row: two a row)
        key = str(pk).translate(HTML_ESCAPES)
        out.append("<tr>")
        if checkboxes:  # named by the row's first cell (or its key), for screen readers
            first = formats(item[columns[0]]) if columns else ""
            name = (select % {"row": first if str(first).strip() else pk}).translate(HTML_ESCAPES)
            out.append(f'<td><input id="{key}" class="action_check" name="rowid" value="{key}" type="checkbox" '
                       f'aria-label="{name}"></td>')
        if show or edit or delete:
            out.append('<td class="crm-row-actions"><center>'
                       '<div class="btn-group btn-group-xs" style="display: flex;">')
            if show:
                out.append(BUTTON.format(href=f"{show}{key}{back}", title=show_b[0], text=show_b[1], icon="fa-search"))
            if edit:
                out.append(BUTTON.format(href=f"{edit}{key}{back}", title=edit_b[0], text=edit_b[1], icon="fa-edit"))
            if delete:
                said = question.translate(HTML_ESCAPES) if question.__class__ is str else escape(question)
                confirm = f' data-confirm="{said}"' if question else ""
                out.append(DELETE.format(href=f"{delete}{key}", title=delete_b[0], text=delete_b[1], confirm=confirm))
            out.append("</div></center></td>")
        for column, render, link, label in cells:
            # no "None", no True/False, no microseconds, whatever a screen's formatter left
            value = render(item[column])
            kind = value.__class__  # a Markup (a choice's label) is HTML already: escape() would copy it
            text = value.translate(HTML_ESCAPES) if kind is str else value if kind is Markup else escape(value)
            if link and str(text).strip():
                text = LINK.format(href=f"{show}{key}{back}", text=text)
            out.append(f"<td{label}>{text}</td>")
        out.append("</tr>\n")
    return Markup("".join(out))


def init_list_rows(app: Flask) -> None:
    app.jinja_env.globals["crm_list_rows"] = list_rows
    init_sort_links(app)  # the header's sort links
