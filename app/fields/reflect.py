"""Reflect the extra columns of the CRM tables onto their models (custom fields, and columns a DBA added).

The models declare the seed's columns. Any other column of customers, contacts, leads,
opportunities, activities or service_tickets is an *extra* column: active in the field
catalogue (custom_fields), or not catalogued yet (added by hand: its label comes from its
name). Each is added to the model's Table and mapped on its mapper, so every screen, filter,
search, export and the API, which are derived from the Table, see it. A hidden field, or a
column gone from the database, is unmapped again (its data stays in the database until purged).

Why map onto the existing models rather than build new classes: the rest of the app (screens,
queries, relationships, listeners) names the model classes; a changed column set must be seen
through them. SQLAlchemy adds a mapped column publicly (`Mapper.add_property`); it has no public
way to remove one, so `_unmap` does what `add_property` did in reverse, in this one place
(tests/web/test_custom_fields.py maps, unmaps and maps again). A SELECT compiled before the
change is cached by the engine under the same key: the engine's compiled cache is cleared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import (BigInteger, Boolean, Column, Connection, Date, DateTime, Engine, Integer, LargeBinary,
                        Numeric, SmallInteger, String, Text, inspect, text)
from sqlalchemy.orm import column_property

from app.encryption.columns import EncryptedAmount
from app.fields.catalog import FieldDef
from app.fields.derived import forget_derived
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket

MODELS: dict[str, type] = {m.__tablename__: m for m in (Customer, Contact, Lead, Opportunity, Activity,
                                                        ServiceTicket)}
# the columns each model declares, read before any extra column is added
DECLARED: dict[str, frozenset[str]] = {name: frozenset(m.__table__.columns.keys()) for name, m in MODELS.items()}

COLUMNS_SQL = text(
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.attnum,"
    # whether a valid B-tree leads with the column: the lists offer to sort by it only then (a sort of
    # millions of rows without one outlasts the statement timeout)
    " EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam"
    " WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum AND i.indisvalid AND am.amname = 'btree')"
    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    " WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:tables)"
    " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum")
CATALOGUE_SQL = text(
    "SELECT field_id, table_name, column_name, field_type, label_en, label_zh, choices, required, financial,"
    " state, source FROM custom_fields ORDER BY field_id")


@dataclass(frozen=True)
class Extra:
    """An extra column as found: its table, name, database type, whether it may be NULL, its catalogue row."""

    table: str
    name: str
    db_type: str
    nullable: bool
    field: FieldDef | None = None
    sortable: bool = False  # a B-tree leads with it

    @property
    def field_type(self) -> str:
        """The catalogue's type, else one guessed from the database type."""
        return self.field.field_type if self.field else guessed_type(self.db_type)


@dataclass
class Reflected:
    """What one reflection found: the extra columns to show, by table, and the schema version read."""

    version: int
    extras: dict[str, list[Extra]] = field(default_factory=dict)


def guessed_type(db_type: str) -> str:
    """A field type for a column not in the catalogue, from its database type."""
    base = db_type.split("(")[0]
    return {"text": "long_text", "character varying": "text", "character": "text", "numeric": "number",
            "integer": "number", "bigint": "number", "smallint": "number", "date": "date",
            "timestamp with time zone": "datetime", "timestamp without time zone": "datetime",
            "boolean": "boolean"}.get(base, "other")


def read_schema(conn: Connection) -> Reflected:
    """The schema version and every shown extra column (active or uncatalogued): three queries."""
    has_catalogue = conn.execute(text("SELECT to_regclass('crm_schema_version') IS NOT NULL")).scalar()
    version = conn.execute(text("SELECT version FROM crm_schema_version")).scalar() if has_catalogue else 0
    catalogue = {(row.table_name, row.column_name): FieldDef(*row)
                 for row in conn.execute(CATALOGUE_SQL)} if has_catalogue else {}
    found = Reflected(int(version or 0), {name: [] for name in MODELS})
    for table, name, db_type, nullable, _attnum, sortable in conn.execute(COLUMNS_SQL, {"tables": list(MODELS)}):
        if name in DECLARED[table]:
            continue
        entry = catalogue.get((table, name))
        if entry is not None and entry.hidden:
            continue
        found.extras[table].append(Extra(table, name, db_type, nullable, entry, sortable))
    return found


def sql_type(extra: Extra) -> Any:
    """The SQLAlchemy type of an extra column: what its database type reads as, an amount sealed if financial."""
    kind, db_type = extra.field_type, extra.db_type
    if db_type == "bytea":
        return EncryptedAmount() if kind == "amount" else LargeBinary()
    if db_type.startswith("character varying("):
        return String(int(db_type[18:-1]))
    if db_type.startswith("numeric("):
        precision, _, scale = db_type[8:-1].partition(",")
        return Numeric(int(precision), int(scale or 0))
    if db_type == "text" and kind in ("text", "choice"):  # one line (a long text is a text area)
        return String()
    simple = {"text": Text(), "character varying": String(), "numeric": Numeric(), "integer": Integer(),
              "bigint": BigInteger(), "smallint": SmallInteger(), "boolean": Boolean(), "date": Date(),
              "timestamp with time zone": DateTime(timezone=True), "timestamp without time zone": DateTime()}
    return simple.get(db_type, Text())


def column_of(extra: Extra) -> Column:
    """The Column to map; `info["custom"]` keeps the extra (labels, choices, type) for the screens."""
    # a link's foreign key stays the database's: FAB would treat a mapped one as a relation's bookkeeping
    # (not writable through the API); the forms' AJAX select and the OpenAPI document read the catalogue
    read_only = extra.field_type == "other"  # a type the forms cannot write (JSON, arrays, ...): shown only
    return Column(extra.name, sql_type(extra), nullable=extra.nullable, info={"custom": extra, "read_only": read_only})


def same(column: Column, extra: Extra) -> bool:
    return column.info.get("custom") == extra


def mapped_extras(model: type) -> dict[str, Column]:
    """The extra columns mapped on a model now."""
    return {c.name: c for c in model.__table__.columns if "custom" in c.info}


def _unmap(model: type, column: Column) -> None:
    """Remove a mapped column from the model's mapper and Table (add_property in reverse)."""
    mapper = inspect(model)
    key = column.name
    mapper._props.pop(key, None)
    vars(mapper)["_init_properties"].pop(key, None)  # SQLAlchemy's (FAB has a method of that name)
    mapper._columns = type(mapper._columns)([(k, c) for k, c in mapper._columns.items() if c is not column])
    for columns in mapper._cols_by_table.values():
        columns.discard(column)
    for proxy in [c for c in mapper._columntoproperty if c is column]:
        del mapper._columntoproperty[proxy]
    manager = mapper.class_manager
    manager.local_attrs.pop(key, None)
    if key in model.__dict__:
        type.__delattr__(model, key)  # declarative refuses `del Model.attr`
    if key in manager:
        del manager[key]
    manager._reset_memoizations()
    model.__table__._columns.remove(column)
    mapper._expire_memoizations()


def apply(found: Reflected, engines: Iterable[Engine] = ()) -> bool:
    """Map the extra columns found on their models (and unmap the others); True when something changed."""
    changed = False
    for table, model in MODELS.items():
        wanted = {extra.name: extra for extra in found.extras.get(table, [])}
        mapped = mapped_extras(model)
        for name, column in mapped.items():
            if name not in wanted or not same(column, wanted[name]):
                _unmap(model, column)
                changed = True
        for name, extra in wanted.items():
            if name in mapped and same(mapped[name], extra):
                continue
            column = column_of(extra)
            model.__table__.append_column(column)
            inspect(model).add_property(name, column_property(column))
            changed = True
    if changed:
        forget_derived()  # every cache registered as derived from the columns (app/fields/derived.py)
        for engine in engines:
            engine.clear_compiled_cache()  # a SELECT compiled before names the old columns
    return changed


def custom_of(column: Any) -> Extra | None:
    """The extra column's description, or None for a column the model declares."""
    info = getattr(column, "info", None) or {}
    return info.get("custom")
