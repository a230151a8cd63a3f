"""A record's History in words: "Wang Li changed Stage from Proposal to Won", in the user's language.

The audit triggers log rows as the database holds them (`{"changes": {"stage": ["proposal", "won"]}}`,
see migration 0006). Here each change becomes a sentence: field labels and documented values in
the user's language, related rows by name (looked up in one query per related table for the
whole page of entries), amounts opened with the key ring for users who may read them and
"hidden" for others, and no bookkeeping (keys, versions, timestamps, bands, who/via).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

from flask_babel import format_date, gettext as _, lazy_gettext as _l, lazy_pgettext
from sqlalchemy import Date, DateTime, Numeric, inspect, select
from sqlalchemy.dialects.postgresql import JSONB

from app.encryption.columns import EncryptedAmount, key_ring
from app.extensions import db
from app.i18n.formatting import amount_text, datetime_text
from app.i18n.labels import choice_label, column_label, custom_choice_label, custom_info, label_for
from app.models.base import Model
from app.models.choices import CHOICE_COLUMNS
from app.models.searchable import SYSTEM_COLUMNS

# what a row of the table is called in "created this customer"
RECORD_WORDS = {
    "customers": _l("customer"), "contacts": _l("contact"), "leads": _l("lead"),
    "opportunities": _l("opportunity"), "activities": _l("activity"), "service_tickets": _l("service ticket"),
    "users": _l("user"), "roles": _l("role"), "reports": _l("report"),
}
ACTIONS = {"insert": lazy_pgettext("action", "Created"), "update": lazy_pgettext("action", "Changed"),
           "delete": lazy_pgettext("action", "Deleted"), "truncate": lazy_pgettext("action", "Emptied"),
           "convert lead": lazy_pgettext("action", "Converted"), "export": lazy_pgettext("action", "Exported"),
           "import": lazy_pgettext("action", "Imported"), "login": lazy_pgettext("action", "Signed in"),
           "login failed": lazy_pgettext("action", "Sign-in failed"), "logout": lazy_pgettext("action", "Signed out"),
           "permissions change": lazy_pgettext("action", "Permissions changed"),
           "role change": lazy_pgettext("action", "Role changed")}
LOGGED_ONLY = {"via", "db_role", "key"}  # who/where the triggers note for the log's readers, not the history
# columns the application keeps for itself: sign-in counters and the like
INTERNAL_COLUMNS = {"last_login", "login_count", "fail_login_count", "locked_until", "jwt_valid_after",
                    "changed_by_fk", "created_by_fk", "changed_on", "created_on"}
OLD_SECRET = ("changed", "[redacted]")  # what the log held for an amount before migration 0024
AmountRule = Callable[[str], bool]


@dataclass
class Change:
    field: str
    old: str | None = None
    new: str | None = None
    known: bool = True  # False: the log says only that it changed


@dataclass
class HistoryRow:
    when: dt.datetime
    who: str
    action: str
    sentences: list[str] = field(default_factory=list)


def model_of(table: str) -> Any:
    """The mapped class of a table, or None."""
    for mapper in Model.registry.mappers:
        if mapper.local_table.name == table:
            return mapper.class_
    return None


class Columns:
    """What the sentences need to know about one table's columns."""

    def __init__(self, table: str) -> None:
        self.table = table
        model = model_of(table)
        self.model = model
        self.columns = model.__table__.columns if model is not None else {}
        self.related: dict[str, tuple[str, type]] = {}  # column -> (label, related model)
        if model is not None:
            for rel in inspect(model).relationships:
                if rel.direction.name == "MANYTOONE" and len(rel.local_columns) == 1:
                    column = next(iter(rel.local_columns)).name
                    key = rel.key if column.endswith("_id") else column
                    self.related[column] = (str(column_label(table, key)), rel.mapper.class_)
        self.sealed = {c.name for c in self.columns if isinstance(c.type, EncryptedAmount)}
        self.primary = {c.name for c in model.__table__.primary_key} if model is not None else set()

    def hidden(self, column: str) -> bool:
        """Bookkeeping nobody reads in a history: keys, versions, timestamps, amounts' bands."""
        return (column in self.primary or column in SYSTEM_COLUMNS or column in INTERNAL_COLUMNS
                or any(column == f"{name}_band" for name in self.sealed)
                or self.model is not None and column not in self.columns)  # a hidden custom field

    def label(self, column: str) -> str:
        if column in self.related:
            return self.related[column][0]
        return str(column_label(self.table, column))


class Names:
    """Names of related rows, read in one query per related table."""

    def __init__(self) -> None:
        self.wanted: dict[type, set[int]] = {}
        self.found: dict[tuple[type, int], str] = {}

    def want(self, model: type, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.wanted.setdefault(model, set()).add(value)

    def load(self) -> None:
        """Read the wanted names not read yet (a page's names may have been read before its rows)."""
        for model, keys in self.wanted.items():
            missing = sorted(k for k in keys if (model, k) not in self.found)
            if not missing:
                continue
            pk = inspect(model).primary_key[0]
            for row in db.session.scalars(select(model).where(pk.in_(missing))):
                self.found[(model, getattr(row, pk.key))] = name_of(row)
            for key in missing:  # a deleted row is looked for once
                self.found.setdefault((model, key), "")

    def name(self, model: type, value: Any) -> str:
        return self.found.get((model, value)) or f"#{value}"


def name_of(row: Any) -> str:
    full = getattr(row, "get_full_name", None)
    return full() if callable(full) else str(row)


def parse(text: str | None) -> dict:
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Reader:
    """Turns the log's JSON into changes, for one table and one reader's rights on amounts."""

    def __init__(self, table: str, may_read_amounts: bool, names: Names | None = None) -> None:
        self.cols = Columns(table)
        self.may_read_amounts = may_read_amounts
        self.names = names or Names()

    def note(self, data: dict) -> None:
        """Remember the related rows an entry names (before `Names.load`)."""
        for column, value in self._values(data):
            if column in self.cols.related:
                for item in value if isinstance(value, list) else [value]:
                    self.names.want(self.cols.related[column][1], item)

    @staticmethod
    def _values(data: dict) -> Iterable[tuple[str, Any]]:
        for column, change in (data.get("changes") or {}).items():
            yield column, change
        for section in ("new", "old"):
            yield from (data.get(section) or {}).items()

    def text(self, column: str, value: Any, key: Any) -> str | None:
        """A logged value as people read it; None for no value."""
        if value is None or value == "":
            return None
        if column in self.cols.sealed:
            return self._amount(column, value, key)
        if column in self.cols.related:
            return self.names.name(self.cols.related[column][1], value)
        if (self.cols.table, column) in CHOICE_COLUMNS:
            return str(choice_label(value))
        custom = custom_info(self.cols.table, column)
        if custom is not None and custom.field_type == "choice":
            return custom_choice_label(custom, value)
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        kind = self.cols.columns[column].type if column in self.cols.columns else None
        try:
            if isinstance(kind, DateTime) and isinstance(value, str):
                return datetime_text(dt.datetime.fromisoformat(value))
            if isinstance(kind, Date) and isinstance(value, str):
                return format_date(dt.date.fromisoformat(value), "medium")
            if isinstance(kind, Numeric) and isinstance(value, (int, float, str)):
                return amount_text(Decimal(str(value)))
        except (ValueError, ArithmeticError):
            pass
        if isinstance(kind, JSONB) or isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    def _amount(self, column: str, value: Any, key: Any) -> str | None:
        if not self.may_read_amounts or not isinstance(value, str) or not value.startswith("\\x"):
            return _("hidden")
        try:
            amount = key_ring().decrypt(bytes.fromhex(value[2:]), self.cols.table, column, int(key))
        except Exception:  # noqa: BLE001  (a retired key or a damaged envelope: say so, never fail the page)
            return _("hidden")
        return amount_text(amount)

    def changes(self, data: dict) -> list[Change]:
        """The readable changes of an update entry."""
        key = next(iter((data.get("key") or {}).values()), None)
        found = []
        for column, change in (data.get("changes") or {}).items():
            if self.cols.hidden(column):
                continue
            label = self.cols.label(column) if column in self.cols.columns else label_for(column)
            if isinstance(change, list) and len(change) == 2:
                found.append(Change(label, self.text(column, change[0], key), self.text(column, change[1], key)))
            else:  # a secret: "changed", and an amount logged before its ciphertext was kept
                found.append(Change(label, known=False))
        return found


def change_sentence(who: str, change: Change) -> str:
    if not change.known or (change.old == change.new):
        return _("%(who)s changed %(field)s", who=who, field=change.field)
    if change.old is None:
        return _("%(who)s set %(field)s to %(new)s", who=who, field=change.field, new=change.new)
    if change.new is None:
        return _("%(who)s cleared %(field)s (was %(old)s)", who=who, field=change.field, old=change.old)
    return _("%(who)s changed %(field)s from %(old)s to %(new)s", who=who, field=change.field,
             old=change.old, new=change.new)


def actor(entry: Any) -> str:
    if entry.user is not None:
        return entry.user.get_full_name()
    if entry.user_id is not None:
        return _("User #%(id)s", id=entry.user_id)
    return _("The system")


def action_text(action: str) -> str:
    verb = (action or "").split(" ")[0]
    return str(ACTIONS.get(action) or ACTIONS.get(verb) or action)


def sentences(entry: Any, reader: Reader, who: str) -> list[str]:
    data = parse(entry.description)
    record = str(RECORD_WORDS.get(reader.cols.table, reader.cols.table))
    if entry.action == f"insert {reader.cols.table}":
        return [_("%(who)s created this %(record)s", who=who, record=record)]
    if entry.action == f"delete {reader.cols.table}":
        return [_("%(who)s deleted this %(record)s", who=who, record=record)]
    if entry.action == f"update {reader.cols.table}":
        return [change_sentence(who, change) for change in reader.changes(data)] or [
            _("%(who)s changed this %(record)s", who=who, record=record)]
    if entry.action == "convert lead":
        return [_("%(who)s converted this lead", who=who)]
    details = [f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
               for key, value in data.items() if key not in LOGGED_ONLY and value not in (None, "", [])]
    return [_("%(who)s: %(action)s", who=who, action=action_text(entry.action)), *details]


def history_rows(entries: list[Any], table: str, may_read_amounts: bool) -> list[HistoryRow]:
    """The History panel's rows: when, who, the action's name and one sentence per change."""
    reader = Reader(table, may_read_amounts)
    for entry in entries:
        reader.note(parse(entry.description))
    reader.names.load()
    rows = []
    for entry in entries:
        who = actor(entry)
        rows.append(HistoryRow(entry.created_at, who, action_text(entry.action), sentences(entry, reader, who)))
    return rows


def change_sentences(entries: list[Any], may_read_amounts: AmountRule) -> dict[int, list[str]]:
    """Each update entry's changes as the History panel says them ("Wang Li changed Stage from Proposal to
    Won"), by log id, for entries of several tables (a customer's timeline); names read once per related table."""
    names, readers, updates = Names(), {}, []
    for entry in entries:
        table = entry.table_name or ""
        if entry.action != f"update {table}":
            continue
        if table not in readers:
            readers[table] = Reader(table, may_read_amounts(table), names)
        data = parse(entry.description)
        readers[table].note(data)
        updates.append(entry)
    names.load()
    return {entry.log_id: sentences(entry, readers[entry.table_name], actor(entry)) for entry in updates}


def table_of_key(data: dict) -> str | None:
    """The table an entry is about, from its key's column ({"customer_id": 5} -> "customers")."""
    names = set(data.get("key") or {})
    for mapper in Model.registry.mappers:
        if names and {c.name for c in mapper.local_table.primary_key} == names:
            return mapper.local_table.name
    return None


def page_names(texts: Iterable[str | None]) -> Names:
    """The related rows a page of log entries names, read in one query per related table."""
    names = Names()
    for text in texts:
        data = parse(text)
        table = table_of_key(data)
        if table is not None:
            Reader(table, False, names).note(data)
    names.load()
    return names


def describe_in_words(text: str | None, may_read_amounts: AmountRule, names: Names | None = None
                      ) -> list[str] | None:
    """A row change's entry as "Field: old → new" lines in the user's language (the log's own list);
    None for an entry that is not about a row (sign-ins, exports, ...). `names`: the page's, if read."""
    data = parse(text)
    table = table_of_key(data)
    if table is None:
        return None
    reader = Reader(table, may_read_amounts(table), names)
    reader.note(data)
    reader.names.load()
    if data.get("changes"):
        return [f"{c.field}: {c.old or '∅'} → {c.new or '∅'}" if c.known else _("%(field)s changed", field=c.field)
                for c in reader.changes(data)]
    snapshot = data.get("new") or data.get("old") or {}
    key = next(iter((data.get("key") or {}).values()), None)
    return [f"{reader.cols.label(column)}: {reader.text(column, value, key)}" for column, value in snapshot.items()
            if column in reader.cols.columns and not reader.cols.hidden(column) and value not in (None, "")]
