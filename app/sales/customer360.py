"""Customer 360: a customer's contacts, open opportunities with their pipeline value, and one timeline.

Every read is bounded, so a customer with 100,000 activities answers as fast as
one with ten: panels show the first rows and a link to the filtered list; the
timeline is a keyset page over three index-backed sources (activities, tickets,
audit-log changes), merged newest first; the pipeline value decrypts at most
PIPELINE_SUM_CAP values (amounts are ciphertext, so they are summed in Python).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import LargeBinary, and_, bindparam, func, or_, select, tuple_, type_coerce
from sqlalchemy.orm import joinedload

from app.models.choices import OPPORTUNITY_STAGES
from app.audit.sentences import RECORD_WORDS, AmountRule, action_text, change_sentences, parse
from app.lists.counts import COUNT_CAP
from app.lists.keyset import Cursor
from app.encryption.columns import key_ring
from app.extensions import db
from app.models import Activity, Contact, Log, Opportunity, ServiceTicket

CLOSED_STAGES = ("won", "lost")
OPEN_STAGES = tuple(s for s in OPPORTUNITY_STAGES if s not in CLOSED_STAGES)
PANEL_LIMIT = 20
TIMELINE_PAGE = 25
PIPELINE_SUM_CAP = 2_000
CHANGE_RECORDS_CAP = 200  # opportunities/contacts whose changes join the customer's own in the timeline
# logs is partitioned by month: look for a page of changes in the recent months first (a few partitions),
# widening only when they hold too few; the rows found in a window are newer than everything outside it
CHANGE_WINDOWS = (dt.timedelta(days=92), dt.timedelta(days=365), dt.timedelta(days=730), None)
KINDS = ("change", "ticket", "activity")  # tie-break order of entries with the same time (rank = index)
TIMELINE_ORDER = "at desc"  # newest first; ties by kind (KINDS), then key


def capped_count(stmt) -> int:
    """Rows of `stmt`, counted up to COUNT_CAP + 1 (shown as "10,000+")."""
    return db.session.scalar(select(func.count()).select_from(stmt.limit(COUNT_CAP + 1).subquery()))


@dataclass
class Panel:
    rows: list[Any]
    total: int  # capped at COUNT_CAP + 1

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def contacts(customer_id: int, limit: int = PANEL_LIMIT) -> Panel:
    where = Contact.customer_id == customer_id
    rows = db.session.scalars(select(Contact).where(where).order_by(Contact.contact_id).limit(limit)).all()
    total = len(rows) if len(rows) < limit else capped_count(select(Contact.contact_id).where(where))
    return Panel(list(rows), total)


def _open(customer_id: int):
    # the stages as literals: the planner must see they are ix_opportunities_customer_open's (0014)
    stages = bindparam("open_stages", list(OPEN_STAGES), expanding=True, literal_execute=True)
    return and_(Opportunity.customer_id == customer_id, Opportunity.stage.in_(stages))


def open_opportunities(customer_id: int, limit: int = PANEL_LIMIT) -> Panel:
    """The open opportunities closing soonest (no close date last)."""
    rows = db.session.scalars(select(Opportunity).where(_open(customer_id))
                              .order_by(Opportunity.close_date.asc().nulls_last(), Opportunity.opportunity_id)
                              .limit(limit)).all()
    total = len(rows) if len(rows) < limit else capped_count(
        select(Opportunity.opportunity_id).where(_open(customer_id)))
    return Panel(list(rows), total)


@dataclass
class PipelineValue:
    total: Decimal  # sum of the decrypted values
    summed: int  # how many values went into it
    exact: bool  # False: more than PIPELINE_SUM_CAP open opportunities have a value


def sum_values(where, cap: int | None = None) -> PipelineValue:
    """Sum of opportunities' values matching `where`, decrypting at most `cap` of them (newest first).

    The ciphertexts are read as plain rows and opened by KeyRing.sum_cents (as the report
    scans do): loading 2,000 ORM objects to decrypt one column each is much slower
    (docs/performance.md).
    """
    cap = cap or PIPELINE_SUM_CAP
    table = Opportunity.__table__
    rows = db.session.execute(
        select(table.c.opportunity_id, type_coerce(table.c.value, LargeBinary))
        .where(where, table.c.value.is_not(None))
        .order_by(table.c.opportunity_id.desc()).limit(cap + 1)).all()
    totals: dict[int, int] = {}
    key_ring().sum_cents(((pk, bytes(value), 0) for pk, value in rows[:cap]), table.name, "value", totals)
    total = Decimal(totals.get(0, 0)) / 100
    return PipelineValue(total.quantize(Decimal("0.01")), min(len(rows), cap), len(rows) <= cap)


def pipeline_value(customer_id: int) -> PipelineValue:
    return sum_values(_open(customer_id))


# ---------------------------------------------------------------- the timeline
def parse_cursor(text: str | None) -> Cursor | None:
    """A position in the timeline (`2026-01-31T09:00:00~activity~42`); None when empty; ValueError when malformed."""
    return Cursor.parse(text, TIMELINE_ORDER, "the timeline", KINDS)


@dataclass
class Entry:
    at: dt.datetime
    kind: str
    id: int
    row: Any  # Activity, ServiceTicket or Log

    @property
    def key(self) -> tuple:
        return self.at, KINDS.index(self.kind), self.id


def _before(at_col, id_col, kind: str, cursor: Cursor | None):
    """Rows of one source that sort after `cursor` (older), as an index-friendly condition."""
    if cursor is None:
        return True
    rank, cursor_rank = KINDS.index(kind), KINDS.index(cursor.kind)
    if rank < cursor_rank:
        return at_col <= cursor.value
    if rank > cursor_rank:
        return at_col < cursor.value
    return tuple_(at_col, id_col) < tuple_(cursor.value, cursor.key)


def _newest(model, at_col, id_col, kind: str, where, cursor: Cursor | None, limit: int,
            *options, order_at=None) -> list[Entry]:
    rows = db.session.scalars(select(model).options(*options).where(where, _before(at_col, id_col, kind, cursor))
                              .order_by((at_col if order_at is None else order_at).desc(), id_col.desc())
                              .limit(limit)).all()
    return [Entry(getattr(r, at_col.key), kind, getattr(r, id_col.key), r) for r in rows]


def _change_conditions(customer_id: int):
    """Log entries of the customer itself and of its newest opportunities and contacts."""
    keys = {"customers": [str(customer_id)]}
    for model, pk in ((Opportunity, Opportunity.opportunity_id), (Contact, Contact.contact_id)):
        ids = db.session.scalars(select(pk).where(model.customer_id == customer_id)
                                 .order_by(pk.desc()).limit(CHANGE_RECORDS_CAP)).all()
        if ids:
            keys[model.__tablename__] = [str(i) for i in ids]
    return or_(*(and_(Log.table_name == table, Log.record_key.in_(values)) for table, values in keys.items()))


def _newest_changes(customer_id: int, cursor: Cursor | None, limit: int,
                    floor: dt.datetime | None = None) -> list[Entry]:
    """The newest `limit` changes before `cursor`; none older than `floor` is needed (the page is full there)."""
    changes = _change_conditions(customer_id)
    anchor = cursor.value if cursor else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for window in CHANGE_WINDOWS:
        # a window reaching before year 1 (a cursor at the calendar's start) has no lower bound
        start = None if window is None or anchor - dt.datetime.min < window else anchor - window
        last = start is None or (floor is not None and start <= floor)  # reaches back far enough
        if last and floor is not None:
            start = floor
        where = changes if start is None else and_(changes, Log.created_at >= start)
        # ordered by an expression, not the column: otherwise the planner walks each partition's
        # created_at index filtering millions of rows for a few records' keys (docs/performance.md);
        # this way it looks the keys up in (table_name, record_key, created_at) and sorts the few found
        found = _newest(Log, Log.created_at, Log.log_id, "change", where, cursor, limit,
                        order_at=Log.created_at + dt.timedelta(0))
        if len(found) >= limit or last:
            return found
    return found


def timeline(customer_id: int, kinds: set[str], cursor: Cursor | None = None,
             limit: int = TIMELINE_PAGE) -> tuple[list[Entry], Cursor | None]:
    """One page of the customer's timeline, newest first, and the cursor of the next (older) page."""
    entries: list[Entry] = []
    if "activity" in kinds:
        entries += _newest(Activity, Activity.activity_date, Activity.activity_id, "activity",
                           Activity.customer_id == customer_id, cursor, limit + 1,
                           joinedload(Activity.contact))  # the timeline names each activity's contact
    if "ticket" in kinds:
        entries += _newest(ServiceTicket, ServiceTicket.created_at, ServiceTicket.ticket_id, "ticket",
                           ServiceTicket.customer_id == customer_id, cursor, limit + 1)
    if "change" in kinds:
        # the page needs no change older than its limit+1-th activity or ticket: with many of
        # those (a big account), the log lookup covers days, not years of partitions
        entries.sort(key=lambda e: e.key, reverse=True)
        floor = entries[limit].at if len(entries) > limit else None
        entries += _newest_changes(customer_id, cursor, limit + 1, floor)
    entries.sort(key=lambda e: e.key, reverse=True)
    page = entries[:limit]
    following = Cursor(TIMELINE_ORDER, page[-1].at, page[-1].id, page[-1].kind) if len(entries) > limit else None
    return page, following


NAME_FIELDS = ("name", "subject", "first_name", "last_name")


def change_summaries(entries: list[Entry], may_read_amounts: AmountRule) -> dict[int, tuple[str, Markup]]:
    """(title, detail) of each change in the timeline, by log id: an update's changes in the History panel's
    sentences ("Wang Li changed Stage from Proposal to Won"), the name of a new or deleted record."""
    logs = [e.row for e in entries if e.kind == "change"]
    said = change_sentences(logs, may_read_amounts)
    return {log.log_id: _summary(log, said.get(log.log_id)) for log in logs}


def _summary(entry: Log, lines: list[str] | None) -> tuple[str, Markup]:
    word = RECORD_WORDS.get(entry.table_name or "", entry.table_name or "")
    if lines is not None:
        return _("Changed %(what)s #%(key)s", what=word, key=entry.record_key), \
            Markup("<br>").join(escape(line) for line in lines)
    data = parse(entry.description)
    snapshot = data.get("new") or data.get("old")
    if not isinstance(snapshot, dict):
        return action_text(entry.action), Markup()
    name = " ".join(str(snapshot[k]) for k in NAME_FIELDS if snapshot.get(k))
    verb = _("Created %(what)s #%(key)s", what=word, key=entry.record_key) if data.get("new") else \
        _("Deleted %(what)s #%(key)s", what=word, key=entry.record_key)
    return verb, escape(name)
