"""Reading the custom-field catalogue and the schema version (what reflecting screens code against)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import Connection, select

from app.extensions import db
from app.models.custom_field import CrmSchemaVersion, CustomField

# the tables custom fields may be added to, with their keys (the targets of link:<table> fields)
CRM_TABLES: dict[str, str] = {"customers": "customer_id", "contacts": "contact_id", "leads": "lead_id",
                              "opportunities": "opportunity_id", "activities": "activity_id",
                              "service_tickets": "ticket_id"}


@dataclass(frozen=True)
class FieldDef:
    """One row of custom_fields.

    Storage by type (app/fields/ddl.py): text: varchar(255) (a B-tree sorts it); long_text, choice (and a
    choice widened to text): text; number: numeric; amount:
    numeric(18, 2), or when financial a bytea envelope sealed as customers.revenue is
    (app/encryption/columns.py: EncryptedAmount, associated data table:column:id) beside
    `<column>_band` smallint; date: date; datetime: timestamp (UTC); boolean; link:<table>: integer
    foreign key to that table's key (ON DELETE SET NULL). `required` is for forms to enforce.
    """

    field_id: int
    table_name: str
    column_name: str
    field_type: str
    label_en: Optional[str]
    label_zh: Optional[str]
    choices: Optional[list]
    required: bool
    financial: bool
    state: str
    source: str

    @property
    def link_table(self) -> Optional[str]:
        """The CRM table a link:<table> field points at, else None."""
        base, _, target = self.field_type.partition(":")
        return target if base == "link" and target else None

    @property
    def base_type(self) -> str:
        """The type without its link target: "link" for link:<table>."""
        return self.field_type.partition(":")[0]

    @property
    def band_column(self) -> Optional[str]:
        """A financial amount's magnitude column (sorting and range filters), else None."""
        return f"{self.column_name}_band" if self.financial else None

    @property
    def hidden(self) -> bool:
        return self.state == "hidden"

    def label(self, locale: str = "en") -> str:
        """The label in a language, falling back to the other, then to the column's name."""
        first, second = (self.label_zh, self.label_en) if locale.startswith("zh") else (self.label_en, self.label_zh)
        return first or second or self.column_name.replace("_", " ").capitalize()

    def choice_values(self) -> list[str]:
        return [c["value"] for c in self.choices or []]

    def choice_label(self, value: str, locale: str = "en") -> str:
        """A choice's label in a language (its value when it has none)."""
        key = "label_zh" if locale.startswith("zh") else "label_en"
        for choice in self.choices or []:
            if choice["value"] == value:
                return choice.get(key) or choice.get("label_en") or value
        return value


COLUMNS = [getattr(CustomField, name) for name in FieldDef.__dataclass_fields__]


def _connection(conn: Optional[Connection]):
    return conn if conn is not None else db.session


def all_fields(include_hidden: bool = False, conn: Optional[Connection] = None) -> list[FieldDef]:
    """Every table's fields, by table then in the order they were added."""
    query = select(*COLUMNS).order_by(CustomField.table_name, CustomField.field_id)
    if not include_hidden:
        query = query.where(CustomField.state == "active")
    return [FieldDef(*row) for row in _connection(conn).execute(query)]


def fields_for(table: str, include_hidden: bool = False, conn: Optional[Connection] = None) -> list[FieldDef]:
    """A table's custom fields in the order they were added; hidden (removed) ones only when asked."""
    query = select(*COLUMNS).where(CustomField.table_name == table).order_by(CustomField.field_id)
    if not include_hidden:
        query = query.where(CustomField.state == "active")
    return [FieldDef(*row) for row in _connection(conn).execute(query)]


def schema_version(conn: Optional[Connection] = None) -> int:
    """The schema version: bumped in the transaction of every field change."""
    return _connection(conn).execute(select(CrmSchemaVersion.version)).scalar_one()
