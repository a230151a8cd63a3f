"""What still names a field: saved list views, CSV imports waiting for confirmation, open bulk jobs.

Issue 23 point 5: a field is not removed or purged while something uses it without saying so.
Dashboard layouts and report definitions are not searched: a layout keeps report types and
the dashboard's own five filter arguments (app/reports/layouts.py drops any other argument),
and a report is one of the fixed generators' snapshots; neither can name a column. CSV import
keeps no mapping to reuse: the header is matched again at each import (app/csv_io/imports.py).
What it stores is an import checked and waiting for confirmation (csv_uploads, kept a day): its
rows as JSON keyed by column, the header already mapped; one that gives the field a value uses it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, text

from app.fields.catalog import FieldDef

# the list screens a saved view or bulk job belongs to, by table
SCREENS = {"customers": "CustomerView", "contacts": "ContactView", "leads": "LeadView",
           "opportunities": "OpportunityView", "activities": "ActivityView", "service_tickets": "TicketView"}
KINDS = {"view": _l("saved view"), "import": _l("CSV import waiting for confirmation"),
         "job": _l("bulk job in progress")}


def names_column(args: str) -> str:
    """SQL: the list arguments `args` (jsonb {name: [values]}) filter or sort by the column :c."""
    return (f"EXISTS (SELECT FROM jsonb_each({args}) AS a WHERE a.key ~ ('^_flt_[0-9]+_' || :c || '$') "
            "OR (a.key LIKE '\\_oc\\_%' AND a.value ? :c))")


@dataclass(frozen=True)
class Use:
    """One thing that names the field: its kind (KINDS), a name to show, and its key."""

    kind: str
    name: str
    key: int | str

    def __str__(self) -> str:
        return f"{KINDS[self.kind]} “{self.name}”"


def saved_views(conn: Connection, table: str, column: str) -> list[Use]:
    """The table's saved list views that filter, sort or show by the column ("name (owner)")."""
    rows = conn.execute(text(f"""
        SELECT v.saved_view_id, v.name, u.username FROM saved_views AS v JOIN users AS u ON u.user_id = v.user_id
        WHERE v.view_name = :screen AND (v.columns ? :c OR {names_column('v.args')}) ORDER BY v.name"""),
        {"screen": SCREENS[table], "c": column}).all()
    return [Use("view", f"{name} ({username})", key) for key, name, username in rows]


def waiting_imports(conn: Connection, table: str, column: str) -> list[Use]:
    """The table's CSV imports waiting for confirmation whose checked rows give the column a value."""
    rows = conn.execute(text("""
        SELECT f.upload_id, f.filename, u.username FROM csv_uploads AS f JOIN users AS u ON u.user_id = f.user_id
        WHERE f.table_name = :t AND EXISTS (
            SELECT FROM jsonb_array_elements(convert_from(f.content, 'UTF8')::jsonb -> 'rows') AS r
            WHERE r ->> :c IS NOT NULL)
        ORDER BY f.created_at"""), {"t": table, "c": column}).all()
    return [Use("import", f"{filename} ({username})", key) for key, filename, username in rows]


def open_jobs(conn: Connection, table: str, column: str) -> list[Use]:
    """Bulk jobs queued or running on the table that set the column or select rows by it."""
    rows = conn.execute(text(f"""
        SELECT j.job_id, j.action, u.username FROM bulk_jobs AS j JOIN users AS u ON u.user_id = j.user_id
        WHERE j.table_name = :t AND j.status IN ('queued', 'running')
          AND (j.arguments ->> 'column' = :c OR {names_column("coalesce(j.arguments -> 'args', '{}')")})
        ORDER BY j.job_id"""), {"t": table, "c": column}).all()
    return [Use("job", f"#{key} {action} ({username})", key) for key, action, username in rows]


def uses_of(conn: Connection, found: FieldDef) -> list[Use]:
    """Everything that names the field now."""
    table, column = found.table_name, found.column_name
    return [*saved_views(conn, table, column), *waiting_imports(conn, table, column), *open_jobs(conn, table, column)]


def listed(uses: list[Use]) -> str:
    return "; ".join(str(use) for use in uses)


def forget_in_views(conn: Connection, column: str, views: list[Use]) -> None:
    """Take the column out of saved views: their columns, and the filters and sort by it (the rest stays)."""
    conn.execute(text(f"""
        UPDATE saved_views AS v SET columns = v.columns - :c,
          args = coalesce((SELECT jsonb_object_agg(a.key, a.value) FROM jsonb_each(v.args) AS a
                           WHERE NOT (a.key ~ ('^_flt_[0-9]+_' || :c || '$')
                                      OR a.key LIKE '\\_oc\\_%' AND a.value ? :c
                                      OR a.key LIKE '\\_od\\_%' AND coalesce(
                                          v.args -> ('_oc_' || substr(a.key, 5)) ? :c, false))), '{{}}')
        WHERE v.saved_view_id = ANY(:ids)"""),
        {"c": column, "ids": [use.key for use in views if use.kind == "view"]})
