"""What the dashboard reads: the latest snapshot of each report type and a type's history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import ARRAY, String, bindparam, column, exists, func, select, table, true

from app.encryption.columns import key_ring
from app.encryption.keyring import DecryptionError
from app.extensions import db
from app.web.fragments import Fragments
from app.models import Report
from app.reports.generators import LOCK_KEY, REPORT_TYPES
from app.reports.sealing import open_figures
from app.reports.shapes import future_date, problem

HISTORY_LIMIT = 90


@dataclass
class Snapshot:
    report_id: int
    report_type: str
    generated_at: dt.datetime
    updated_at: dt.datetime  # a trigger sets it on every UPDATE: (report_id, updated_at) names one content
    data: Any  # money figures opened; any shape (rows stored before checks, by hand, or by SQL)
    problem: str | None = None  # why it cannot be drawn (translated); None when it has its documented shape


# (report_id, updated_at, language) -> (opened data, problem): a schema check costs milliseconds
_CHECKED: Fragments[tuple[Any, str | None]] = Fragments(512)


def _open_and_check(snapshot: Snapshot) -> tuple[Any, str | None]:
    try:
        data = open_figures(snapshot.data, snapshot.report_id, key_ring())
    except DecryptionError as exc:
        return snapshot.data, _("A money figure does not decrypt (%(error)s).", error=str(exc))
    return data, problem(snapshot.report_type, data)


def _read(row: Any) -> Snapshot:
    """A stored row as a Snapshot: figures opened and shape checked, never an exception."""
    snapshot = Snapshot(*row)
    key = (snapshot.report_id, snapshot.updated_at, str(get_locale()))
    snapshot.data, snapshot.problem = _CHECKED.get(key, lambda: _open_and_check(snapshot))
    # not kept: a date in the future is one no longer
    snapshot.problem = future_date(snapshot.generated_at) or snapshot.problem
    return snapshot


COLUMNS = (Report.report_id, Report.report_type, Report.generated_at, Report.updated_at, Report.data)
PG_LOCKS = table("pg_locks", column("locktype"), column("objid"), column("granted"))


def latest() -> dict[str, Snapshot]:
    """Newest snapshot per type: one backward index probe per report type, whatever the history's length.

    Only the reports table is read, never the CRM tables the snapshots summarise.
    """
    kinds = select(func.unnest(bindparam("types", list(REPORT_TYPES), ARRAY(String))).column_valued("report_type"))
    kinds = kinds.subquery("kinds")
    newest = (select(*COLUMNS).where(Report.report_type == kinds.c.report_type)
              .order_by(Report.generated_at.desc(), Report.report_id.desc()).limit(1).lateral("newest"))
    rows = db.session.execute(select(newest).select_from(kinds.join(newest, true())))
    return {r.report_type: _read(r) for r in rows}


def history(report_type: str, limit: int = HISTORY_LIMIT) -> list[Snapshot]:
    """The type's last `limit` snapshots, oldest first."""
    rows = db.session.execute(select(*COLUMNS).where(Report.report_type == report_type)
                              .order_by(Report.generated_at.desc(), Report.report_id.desc()).limit(limit)).all()
    return [_read(r) for r in reversed(rows)]


def generation_running() -> bool:
    """True while some process holds the generators' advisory lock."""
    # a Core SELECT, not text(): the audit hook spends a round trip before any statement that may write
    return bool(db.session.scalar(select(exists().where(
        PG_LOCKS.c.locktype == "advisory", PG_LOCKS.c.objid == LOCK_KEY, PG_LOCKS.c.granted))))

