"""Adding, hiding, restoring, purging, relabelling and widening a field (each through app/fields/owner.py)."""
from __future__ import annotations

import json
from typing import Mapping, Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, text

from app.fields import ddl, usage
from app.fields.catalog import FieldDef
from app.fields.owner import as_owner, bump_version, find, log_change
from app.fields.rules import (BAND_SUFFIX, FieldError, FieldSpec, check_label, check_spec, check_widening,
                              parse_choices)
from app.fields.upkeep import finish_field
from app.fields.usage import Use

def add_field(spec: FieldSpec, config: Optional[Mapping] = None) -> FieldDef:
    """Add the column, its constraints (NOT VALID) and catalogue row in one transaction; then its indexes."""

    def work(conn: Connection) -> FieldDef:
        existing = conn.execute(text("SELECT state FROM custom_fields WHERE table_name = :t AND column_name = :c"),
                                {"t": spec.table_name, "c": spec.column_name}).scalar()
        if existing == "hidden":
            raise FieldError(_l("%(name)s was removed and keeps its data: restore it, or purge it first.",
                                name=spec.column_name))
        checked = check_spec(conn, spec)
        table, column = checked.table_name, checked.column_name
        clauses = ddl.columns_sql(table, column, checked.field_type, checked.financial)
        clauses += [f"ADD CONSTRAINT {ddl.q(c.name)} {c.definition} NOT VALID"
                    for c in ddl.constraints(table, column, checked.field_type, checked.financial, checked.choices)]
        statement = f"ALTER TABLE {ddl.q(table)} " + ", ".join(clauses)
        conn.exec_driver_sql(statement)
        field_id = conn.execute(text(
            "INSERT INTO custom_fields (table_name, column_name, field_type, label_en, label_zh, choices, "
            "required, financial) VALUES (:t, :c, :type, :en, :zh, CAST(:choices AS jsonb), :required, "
            ":financial) RETURNING field_id"),
            {"t": table, "c": column, "type": checked.field_type, "en": checked.label_en, "zh": checked.label_zh,
             "choices": json.dumps(checked.choices, ensure_ascii=False) if checked.choices else None,
             "required": checked.required, "financial": checked.financial}).scalar_one()
        log_change(conn, "field add", field_id, {"table": table, "column": column, "type": checked.field_type,
                                                 "financial": checked.financial, "ddl": statement})
        bump_version(conn)
        return find(conn, table, column)

    added = as_owner(work, config)
    finish_field(added, config)
    return added


def _set_state(table: str, column: str, state: str, action: str, config: Optional[Mapping]) -> list[Use]:
    """Hide or show a field; what uses it (saved views lose it while it is hidden, and get it back)."""

    def work(conn: Connection) -> list[Use]:
        found = find(conn, table, column)
        if found.state == state:
            raise FieldError(_l("%(name)s is already removed.", name=column) if state == "hidden"
                             else _l("%(name)s is not removed.", name=column))
        uses = usage.uses_of(conn, found)
        jobs = [use for use in uses if use.kind == "job"]
        if jobs and state == "hidden":  # a job half done when its column vanishes would stop half-way
            raise FieldError(_l("%(name)s is used by %(uses)s: wait until it ends, or cancel it, then remove "
                                "the field.", name=column, uses=usage.listed(jobs)))
        conn.execute(text("UPDATE custom_fields SET state = :s, updated_at = now() WHERE field_id = :id"),
                     {"s": state, "id": found.field_id})
        log_change(conn, action, found.field_id, {"table": table, "column": column,
                                                  "used_by": [str(use) for use in uses]})
        bump_version(conn)
        return uses

    return as_owner(work, config)


def remove_field(table: str, column: str, config: Optional[Mapping] = None) -> list[Use]:
    """Hide the field from every screen; its column and data stay until purged. What uses it (said, not refused:
    removing can be undone, and the saved views keep naming it for when it is restored)."""
    return _set_state(table, column, "hidden", "field remove", config)


def restore_field(table: str, column: str, config: Optional[Mapping] = None) -> list[Use]:
    """Show a removed field again, with the data it kept."""
    return _set_state(table, column, "active", "field restore", config)


def purge_field(table: str, column: str, config: Optional[Mapping] = None, force: bool = False) -> list[Use]:
    """Drop a removed field's column and data for good. Refused while something uses it, unless `force`:
    then the saved views lose their filters, sort and column by it (open bulk jobs still refuse). The uses."""

    def work(conn: Connection) -> list[Use]:
        found = find(conn, table, column)
        if found.state != "hidden":
            raise FieldError(_l("Remove %(name)s first: only a removed field can be purged.", name=column))
        uses = usage.uses_of(conn, found)
        jobs = [use for use in uses if use.kind == "job"]
        if jobs or (uses and not force):
            raise FieldError(_l("%(name)s is used by: %(uses)s. Change them first, or purge it anyway: that takes "
                                "it out of the saved views, and a waiting import naming it is refused (it can be "
                                "uploaded again).", name=column, uses=usage.listed(uses)) if not jobs else
                             _l("%(name)s is used by %(uses)s: wait until it ends, or cancel it, then purge the "
                                "field.", name=column, uses=usage.listed(jobs)))
        usage.forget_in_views(conn, column, uses)
        drops = [column] + ([column + BAND_SUFFIX] if found.financial else [])
        statement = f"ALTER TABLE {ddl.q(table)} " + ", ".join(f"DROP COLUMN IF EXISTS {ddl.q(c)}" for c in drops)
        conn.exec_driver_sql(statement)  # PostgreSQL drops the column's indexes and constraints with it
        conn.execute(text("DELETE FROM custom_fields WHERE field_id = :id"), {"id": found.field_id})
        log_change(conn, "field purge", found.field_id, {"table": table, "column": column, "ddl": statement,
                                                         "forced_from": [str(use) for use in uses]})
        bump_version(conn)
        return uses

    return as_owner(work, config)


def relabel_field(table: str, column: str, label_en: Optional[str], label_zh: Optional[str],
                  required: Optional[bool] = None, config: Optional[Mapping] = None) -> FieldDef:
    """New labels (a blank one keeps the old), and whether the field is required."""

    def work(conn: Connection) -> FieldDef:
        found = find(conn, table, column)
        en, zh = check_label(label_en) or found.label_en, check_label(label_zh) or found.label_zh
        req = found.required if required is None else required
        conn.execute(text("UPDATE custom_fields SET label_en = :en, label_zh = :zh, required = :r, "
                          "updated_at = now() WHERE field_id = :id"),
                     {"en": en, "zh": zh, "r": req, "id": found.field_id})
        log_change(conn, "field change", found.field_id,
                   {"table": table, "column": column, "label_en": en, "label_zh": zh, "required": req})
        bump_version(conn)
        return find(conn, table, column)

    return as_owner(work, config)


def rechoose_field(table: str, column: str, raw_choices: str | list, config: Optional[Mapping] = None) -> FieldDef:
    """A choice's values relabelled or added to (never dropped: rows may hold them); its check follows."""

    def work(conn: Connection) -> FieldDef:
        found = find(conn, table, column)
        if found.field_type != "choice":
            raise FieldError(_l("Only a choice field has values to choose from."))
        choices = parse_choices(raw_choices)
        dropped = set(found.choice_values()) - {c["value"] for c in choices}
        if dropped:
            raise FieldError(_l("Values cannot be taken away (records may hold them): %(values)s.",
                                values=", ".join(sorted(dropped))))
        [check] = ddl.constraints(table, column, "choice", False, choices)
        conn.exec_driver_sql(f"ALTER TABLE {ddl.q(table)} DROP CONSTRAINT IF EXISTS {ddl.q(check.name)}, "
                             f"ADD CONSTRAINT {ddl.q(check.name)} {check.definition} NOT VALID")
        conn.execute(text("UPDATE custom_fields SET choices = CAST(:c AS jsonb), updated_at = now() "
                          "WHERE field_id = :id"),
                     {"c": json.dumps(choices, ensure_ascii=False), "id": found.field_id})
        log_change(conn, "field change", found.field_id, {"table": table, "column": column, "choices": choices})
        bump_version(conn)
        return find(conn, table, column)

    changed = as_owner(work, config)
    finish_field(changed, config)  # validates the new check without blocking writes
    return changed


def widen_field(table: str, column: str, new_type: str, config: Optional[Mapping] = None) -> FieldDef:
    """Change a field's type to a wider one (rules.WIDENINGS): no table rewrite; its indexes follow."""
    holder: dict[str, FieldDef] = {}

    def work(conn: Connection) -> FieldDef:
        found = holder["old"] = find(conn, table, column)
        check_widening(found.field_type, new_type, found.financial)
        clauses = [f"DROP CONSTRAINT IF EXISTS {ddl.q(c.name)}"
                   for c in ddl.constraints(table, column, found.field_type, False, found.choices)]
        # numeric(18, 2) to numeric, varchar to text: no rewrite; a choice stays text (varchar(n) would scan)
        if ddl.SQL_TYPES[new_type] != ddl.SQL_TYPES[found.field_type] and found.field_type != "choice":
            clauses.append(f"ALTER COLUMN {ddl.q(column)} TYPE {ddl.SQL_TYPES[new_type]}")
        if clauses:  # text to long_text changes the catalogue only
            conn.exec_driver_sql(f"ALTER TABLE {ddl.q(table)} " + ", ".join(clauses))
        conn.execute(text("UPDATE custom_fields SET field_type = :type, choices = NULL, updated_at = now() "
                          "WHERE field_id = :id"), {"type": new_type, "id": found.field_id})
        log_change(conn, "field widen", found.field_id,
                   {"table": table, "column": column, "from": found.field_type, "to": new_type})
        bump_version(conn)
        return find(conn, table, column)

    widened = as_owner(work, config)
    old = holder["old"]
    finish_field(widened, config, drop=ddl.indexes(table, column, old.field_type, False, bounded=True))
    return widened
