"""CSV import: columns by name or label (English or Chinese), each row checked by the screen's own
form fields and validators, related rows looked up in batches; then one all-or-nothing insert."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import psycopg
from flask_babel import gettext as _
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DBAPIError

from app.models.choices import CHOICE_COLUMNS, INDUSTRY_ALIASES
from app.i18n.labels import choice_label
from app.csv_io.reading import decode, rows_of
from app.audit.context import bind as bind_actor
from app.audit.record import current_user_id
from app.encryption.columns import Sealed, encrypted_columns, seal_rows
from app.extensions import db
from app.lists.scope import ownable
from app.models import Contact, Customer, User
from app.crud.custom_fields import custom_choice_value, custom_choices, custom_labels
from app.crud.derive import label_for

# The seed's Chinese descriptions (docs/seed) of the importable columns, as column headers.
CHINESE: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {"name": ("客户名称",), "industry": ("所属行业", "行业"), "location": ("地理位置", "地区"),
                  "revenue": ("年收入", "收入")},
    "contacts": {"customer": ("客户", "客户ID", "客户编号", "所属客户", "客户名称"), "first_name": ("名",),
                 "last_name": ("姓",), "email": ("电子邮件", "邮箱"), "phone": ("电话号码", "电话"),
                 "position": ("职位",)},
    "leads": {"source": ("来源",), "status": ("状态", "状态（如新、跟进中）"),
              "contact": ("联系人", "联系人ID", "联系人编号")},
}
# Columns an export writes that an import leaves to the database: ids, timestamps, bands.
CHINESE_IGNORED = ("主键", "编号", "创建时间", "更新时间", "版本")
# How a related row may be named instead of by its id.
NAME_COLUMNS = {Customer: Customer.name, Contact: Contact.email, User: User.username}
LOOKUP_CHUNK = 10_000
OWNER = "owner_id"  # the owned tables' owner (migration 0026)
MEMO_SIZE = 10_000  # distinct values remembered per column during one check


def _key(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header.strip().casefold())


@dataclass
class Target:
    """One importable field: a column, or a many-to-one relation given by id or name."""

    key: str  # form field / relationship name
    column: str  # the table column written
    label: str
    required: bool
    related: type | None = None


@dataclass
class Problem:
    row: int
    column: str
    error: str


@dataclass
class Checked:
    """A dry run's outcome: the rows ready to insert, or the problems (row, column, error)."""

    encoding: str
    columns: dict[str, str] = field(default_factory=dict)  # header -> field label
    ignored: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # each row's row number in the file
    related: dict[str, str] = field(default_factory=dict)  # foreign-key column -> its header
    problems: list[Problem] = field(default_factory=list)
    total: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _CellData:
    """One cell as the form data WTForms reads (cheaper than a MultiDict per cell)."""

    __slots__ = ("name", "values")

    def __init__(self, name: str) -> None:
        self.name, self.values = name, []

    def __contains__(self, name: str) -> bool:
        return bool(self.values)

    def getlist(self, name: str) -> list[str]:
        return self.values


class Importer:
    """Import rules of one screen (a CrmModelView with `add_form`)."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.model = view.datamodel.obj
        mapper = inspect(self.model)
        self.table = mapper.local_table
        relations = {rel.key: rel for rel in mapper.relationships if rel.direction.name == "MANYTOONE"}
        self.targets: list[Target] = []
        names: dict[str, tuple[Target, bool]] = {}  # header key -> (target, given by id)
        chinese = CHINESE.get(self.table.name, {})
        for key in view.add_columns:
            rel = relations.get(key)
            if rel is not None:
                (local,) = rel.local_columns
                target = Target(key, local.name, str(view.label_columns.get(key, label_for(key))),
                                not local.nullable, rel.mapper.class_)
                by_id = {local.name, label_for(local.name), *[c for c in chinese.get(key, ()) if "ID" in c or "编号" in c]}
                by_name = {key, label_for(key), target.label, *chinese.get(key, ())} - by_id
                names.update({_key(n): (target, True) for n in by_id})
                names.update({_key(n): (target, False) for n in by_name})
            else:
                column = self.table.columns[key]
                target = Target(key, key, str(view.label_columns.get(key, label_for(key))),
                                not column.nullable and column.server_default is None)
                names.update({_key(n): (target, False) for n in (key, label_for(key), target.label,
                                                                  *chinese.get(key, ()), *custom_labels(column))})
            self.targets.append(target)
        self.names = names
        form_columns = {t.column for t in self.targets}
        self.ignored = {_key(n) for c in self.table.columns if c.name not in form_columns
                        for n in (c.name, label_for(c.name), str(view.label_columns.get(c.name, "")))
                        if n} | {_key(n) for n in CHINESE_IGNORED}
        self.ignored -= set(names)

    # ------------------------------------------------------------------ headers
    def map_header(self, header: list[str], result: Checked) -> dict[int, tuple[Target, bool]]:
        chosen: dict[str, tuple[int, bool]] = {}
        for index, name in enumerate(header):
            found = self.names.get(_key(name))
            if found is None:
                if _key(name) in self.ignored:
                    result.ignored.append(name)
                elif name:
                    result.problems.append(Problem(1, name, _(
                        "Unknown column. Known columns: %(names)s.",
                        names=", ".join(t.label for t in self.targets))))
                continue
            target, by_id = found
            if target.key in chosen:
                other, other_by_id = chosen[target.key]
                if by_id == other_by_id:
                    result.problems.append(Problem(1, name, _("The column %(label)s appears twice.",
                                                              label=target.label)))
                    continue
                if not by_id:  # both the id and the name of a related row: the id decides
                    result.ignored.append(name)
                    continue
                result.ignored.append(header[other])
            chosen[target.key] = (index, by_id)
        for target in self.targets:
            if target.required and target.key not in chosen:
                result.problems.append(Problem(1, target.label, _("Required column is missing.")))
        mapping = {index: (next(t for t in self.targets if t.key == key), by_id)
                   for key, (index, by_id) in chosen.items()}
        result.columns = {header[i]: t.label for i, (t, _by_id) in sorted(mapping.items())}
        return mapping

    # ------------------------------------------------------------------ rows
    def _choice(self, column: str, text: str) -> str:
        """A documented value typed in any case, or as its label in the user's language."""
        for value in CHOICE_COLUMNS.get((self.table.name, column), ()):
            if text.casefold() in (value.casefold(), _(value.capitalize()).casefold(),
                                   str(choice_label(value)).casefold()):
                return value
        if custom_choices(self.table.columns[column]):
            return custom_choice_value(self.table.columns[column], text) or text
        return INDUSTRY_ALIASES.get(text.strip().casefold(), text) if column == "industry" else text

    def check(self, data: bytes, encoding: str = "auto") -> Checked:
        """The dry run: every problem of the file as (row, column, error); nothing is written."""
        text, used = decode(data, encoding)
        header, rows = rows_of(text)
        result = Checked(used, total=len(rows))
        mapping = self.map_header(header, result)
        if result.problems:
            return result
        form = self.view.add_form(formdata=None, meta={"csrf": False})
        checkers = {index: self._cell_checker(form, target) for index, (target, _by_id) in mapping.items()
                    if target.related is None}
        # columns absent from the file: a literal default here; an expression's (the owner: the
        # acting user) is left out of the INSERT, so the database computes it
        absent = {t.column: self._default(t) for t in self.targets
                  if t.key not in {target.key for target, _by_id in mapping.values()}
                  and not self._computed_default(t)}
        pending: dict[type, dict[str, list[tuple[int, dict, Target, str, str]]]] = {}
        problems = result.problems
        for number, cells in rows:
            record: dict[str, Any] = dict(absent)
            for index, (target, by_id) in mapping.items():
                raw = cells[index].strip() if index < len(cells) else ""
                checker = checkers.get(index)
                if checker is not None:
                    value, error = checker(raw)
                    record[target.column] = value
                    if error:
                        problems.append(Problem(number, header[index], error))
                elif not raw:
                    record[target.column] = None
                    if target.required:
                        problems.append(Problem(number, header[index], _("This field is required.")))
                else:
                    kind = "id" if by_id or raw.isdigit() else "name"
                    if kind == "id" and raw.isdigit():
                        raw = str(int(raw))
                    pending.setdefault(target.related, {}).setdefault(kind, []).append(
                        (number, record, target, raw, header[index]))
            result.rows.append(record)
            result.numbers.append(number)
        self._resolve(pending, result)
        result.related = {t.column: header[i] for i, (t, _by_id) in mapping.items() if t.related is not None}
        self._owners_in_scope(result)
        position = {name: i for i, name in enumerate(header)}
        problems.sort(key=lambda p: (p.row, position.get(p.column, -1)))
        if problems:
            result.rows, result.numbers = [], []
        return result

    def _owners_in_scope(self, result: Checked) -> None:
        """A row given to an owner outside the user's data scope is a row error (the row-level policies would
        refuse it at the insert); a blank owner is the importer, as when the column is left out."""
        header = result.related.get(OWNER)
        if header is None:
            return
        blank = {number for number, row in zip(result.numbers, result.rows) if row[OWNER] is None}
        named = {p.row for p in result.problems if p.column == header}  # no such user: said already
        for number, row in zip(result.numbers, result.rows):
            if number in blank and number not in named:
                row[OWNER] = current_user_id()
        allowed = ownable(self.table.name, {row[OWNER] for row in result.rows if row[OWNER] is not None})
        result.problems += [Problem(number, header, _(
            "You cannot give records to user #%(id)s: their records are outside your data scope.", id=row[OWNER]))
            for number, row in zip(result.numbers, result.rows)
            if row[OWNER] is not None and row[OWNER] not in allowed]

    def _computed_default(self, target: Target) -> bool:
        """Whether the column's database default is an expression (owner_id: `crm.user_id`), not a value."""
        default = self.table.columns[target.column].server_default
        return default is not None and not isinstance(default.arg, str)

    def _default(self, target: Target) -> Any:
        default = self.table.columns[target.column].server_default
        return default.arg if default is not None and isinstance(default.arg, str) else None

    def _cell_checker(self, form: Any, target: Target) -> Callable[[str], tuple[Any, str | None]]:
        """raw cell -> (value, error) by the form field's own parsing and validators.

        Repeated values (industries, cities, statuses) are checked once.
        """
        column = self.table.columns[target.column]
        form_field = form[target.key]
        default = self._default(target)
        choices = (self.table.name, target.column) in CHOICE_COLUMNS or bool(custom_choices(column))
        cell = _CellData(target.key)
        seen: dict[str, tuple[Any, str | None]] = {}

        def check(raw: str) -> tuple[Any, str | None]:
            known = seen.get(raw)
            if known is not None:
                return known
            if not raw and column.server_default is not None:
                return default, None
            text = self._choice(target.column, raw) if choices else raw
            cell.values = [text] if text else []
            form_field.process(cell)
            if form_field.validate(form):
                value = form_field.data
                outcome = (None if isinstance(value, str) and not value and column.nullable else value, None)
            else:
                outcome = (None, str(form_field.errors[0]))
            if len(seen) < MEMO_SIZE:
                seen[raw] = outcome
            return outcome

        return check

    def _resolve(self, pending: dict, result: Checked) -> None:
        """Related rows named by id or name, looked up in batches (not one query per row)."""
        for model, kinds in pending.items():
            pk = inspect(model).primary_key[0]
            noun = label_for(model.__tablename__.removesuffix("s")).lower()
            found: dict[str, Any] = {}
            ambiguous: set[str] = set()
            for kind, items in kinds.items():
                wanted = sorted({raw for *_rest, raw, _name in items})
                for start in range(0, len(wanted), LOOKUP_CHUNK):
                    chunk = wanted[start:start + LOOKUP_CHUNK]
                    if kind == "id":
                        ids = [int(v) for v in chunk if v.isdigit() and len(v) < 10]
                        found.update({str(i): i for i in db.session.scalars(select(pk).where(pk.in_(ids)))})
                    else:
                        name_col = NAME_COLUMNS[model]
                        for name, count, first in db.session.execute(
                                select(name_col, func.count(), func.min(pk)).where(name_col.in_(chunk))
                                .group_by(name_col)):
                            if count > 1:
                                ambiguous.add(name)
                            else:
                                found[name] = first
            for kind, items in kinds.items():
                for number, record, target, raw, name in items:
                    if raw in ambiguous:
                        result.problems.append(Problem(number, name, _(
                            "Several %(what)s records are named %(name)s: give the ID.", what=noun, name=raw)))
                    elif raw in found:
                        record[target.column] = found[raw]
                    else:
                        result.problems.append(Problem(number, name, _(
                            "No %(what)s with %(kind)s %(value)s.", what=noun,
                            kind=_("ID") if kind == "id" else _("name"), value=raw)))

    # ------------------------------------------------------------------ between check and insert
    @staticmethod
    def pack(result: Checked) -> bytes:
        """The checked rows as kept until the user confirms (JSON; amounts as text, exact)."""
        return json.dumps({"rows": result.rows, "numbers": result.numbers, "related": result.related,
                           "encoding": result.encoding}, ensure_ascii=False, default=str).encode("utf-8")

    def unpack(self, content: bytes) -> Checked:
        """The checked rows again, with their related rows checked once more and locked.

        Everything else about a row is as checked; a related row may have been deleted since,
        so the rows still referenced are locked (FOR KEY SHARE) until the insert commits.
        """
        payload = json.loads(content)
        result = Checked(payload["encoding"], rows=payload["rows"], numbers=payload["numbers"],
                         related=payload["related"], total=len(payload["rows"]))
        self._forget_gone_columns(result)
        relations = {t.column: t for t in self.targets if t.related is not None}
        for column, header in result.related.items():
            target = relations[column]
            pk = inspect(target.related).primary_key[0]
            wanted = sorted({row[column] for row in result.rows if row[column] is not None})
            existing: set[int] = set()
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                existing.update(db.session.scalars(select(pk).where(pk.in_(wanted[start:start + LOOKUP_CHUNK]))
                                                   .with_for_update(key_share=True)))
            noun = label_for(target.related.__tablename__.removesuffix("s")).lower()
            result.problems += [Problem(number, header, _("No %(what)s with %(kind)s %(value)s.", what=noun,
                                                          kind=_("ID"), value=row[column]))
                                for number, row in zip(result.numbers, result.rows)
                                if row[column] is not None and row[column] not in existing]
        if result.problems:
            result.rows, result.numbers = [], []
        return result

    def _forget_gone_columns(self, result: Checked) -> None:
        """A custom field removed since the check: left out where no row gives it a value, else a problem."""
        for column in set(result.rows[0] if result.rows else ()) - set(self.table.columns.keys()):
            if any(row[column] is not None for row in result.rows):
                result.problems.append(Problem(1, column, _(
                    "%(name)s is no longer a field of this table (removed since the check): upload the file again.",
                    name=column)))
            for row in result.rows:
                del row[column]

    # ------------------------------------------------------------------ insert
    def insert(self, rows: list[dict[str, Any]]) -> None:
        """All rows in the caller's transaction, pipelined INSERTs; ids from the sequence when amounts are sealed.

        Not COPY: PostgreSQL refuses COPY FROM into a table under row-level security (migration
        0026), and the policies must check each row's owner. psycopg sends the INSERTs in one
        pipeline, so the cost stays close to COPY's; the row triggers (audit, timestamps) fire.
        """
        if not rows:
            return
        connection = db.session.connection()
        bind_actor(connection)  # the audit trigger names the user; the policies check the owner
        if encrypted_columns(inspect(self.model)):
            seal_rows(connection, self.model, rows)
        columns = list(rows[0])
        quoted = ", ".join(f'"{c}"' for c in columns)
        statement = f'INSERT INTO "{self.table.name}" ({quoted}) VALUES ({", ".join(["%s"] * len(columns))})'
        values = [[bytes(v) if isinstance(v, Sealed) else v for v in map(row.get, columns)] for row in rows]
        try:
            with connection.connection.driver_connection.cursor() as cursor:
                cursor.executemany(statement, values)
        except psycopg.Error as exc:  # as SQLAlchemy's own error, which the caller words (a refusal, a conflict)
            raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
