"""Bulk jobs: an "all matching" bulk action above CRM_BULK_INLINE_LIMIT rows, run in batches in the background.

A job (`bulk_jobs`) names who asked, the list's arguments, the action and its value; a thread of
the web process runs it as that user, batch after batch: the next keys above the last one done,
changed and recorded in one transaction (an export: the next rows in the list's order,
app/lists/bulk_exports.py). A refusal stops it with earlier batches done; a cancel
stops it after the batch under way; a dead runner's lease runs out and the scheduler's `bulk-jobs`
job takes over (`claim`: FOR UPDATE SKIP LOCKED). The audit triggers log every row under the
user's name; one `bulk delete` / `bulk set` / `export` entry says what the job did in all.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from typing import Any

from flask import Flask, current_app, g
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import Date, DateTime, delete, func, inspect, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.audit import record as audit_log
from app.audit.context import VIA_KEY
from app.crud.refusals import friendly
from app.csv_io.export import export_columns, filename
from app.extensions import db
from app.lists import bulk, bulk_exports
from app.lists.selection import primary_key, selection
from app.models import BulkJob, User
from app.scheduler.state import utcnow

log = logging.getLogger(__name__)

PERMISSIONS = {"delete": "can_delete", "set": "can_edit", "export": "can_export"}
LOGGED_AS = {"delete": "bulk delete", "set": "bulk set", "export": "export"}
RECENT = dt.timedelta(hours=1)  # a list links to the user's jobs on it that ended this recently

SERVER_GOING = ("57P01", "57P02", "57P03")  # admin shutdown, crash shutdown, cannot connect now
CONFLICTS = ("40001", "40P01", "55P03")  # serialization failure, deadlock, lock not available
RETRIES = 5  # a batch in conflict is tried again this many times before the job fails

_threads: dict[int, threading.Thread] = {}  # job -> the thread of this process running it


def inline_limit() -> int:
    """Above this many rows an "all matching" bulk action becomes a job (CRM_BULK_INLINE_LIMIT)."""
    return int(current_app.config.get("BULK_INLINE_LIMIT", 5_000))


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# ---------------------------------------------------------------------------- asking
def stored_value(value: Any) -> Any:
    """A value to set, as JSON: dates as ISO text (read back by the column's type)."""
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def loaded_value(model: type, column: str, value: Any) -> Any:
    kind = inspect(model).columns[column].type
    parse = dt.datetime if isinstance(kind, DateTime) else dt.date if isinstance(kind, Date) else None
    return parse.fromisoformat(value) if parse is not None and value is not None else value


def create(view: Any, action: str, total: int, args: dict[str, list[str]], **extra: Any) -> BulkJob:
    """Record a job for the signed-in user (committed) and start it in a thread of this process."""
    table = view.datamodel.obj.__tablename__
    job = BulkJob(user_id=g.user.user_id, screen=view.endpoint, table_name=table, action=action,
                  arguments={"args": args, **extra}, locale=str(get_locale() or "en"), total=total,
                  result_file=filename(table) if action == "export" else None)
    db.session.add(job)
    db.session.commit()
    job_id = job.job_id
    if current_app.config.get("BULK_JOB_THREADS", True):
        start(current_app._get_current_object(), job_id)
    return db.session.get(BulkJob, job_id)


def start(app: Flask, job_id: int) -> threading.Thread:
    """Run the job in a daemon thread of this process (the scheduler takes it over if the process dies)."""
    thread = threading.Thread(target=run, args=(app, job_id), name=f"bulk-job-{job_id}", daemon=True)
    _threads[job_id] = thread
    thread.start()
    return thread


def wait(job_id: int, timeout: float = 60.0) -> bool:
    """Wait for this process's thread of the job to end; True when it has (or there is none)."""
    thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)
        if thread.is_alive():
            return False
        _threads.pop(job_id, None)
    return True


def cancel(job_id: int, user_id: int) -> bool:
    """Stop the user's job after the batch under way (done batches stay done); False when it had ended."""
    changed = db.session.execute(
        update(BulkJob).where(BulkJob.job_id == job_id, BulkJob.user_id == user_id,
                              BulkJob.status.in_(("queued", "running")))
        .values(status="cancelled", finished_at=utcnow(), updated_at=utcnow())).rowcount
    db.session.commit()
    return bool(changed)


def owned(job_id: int, user_id: int, screen: str) -> BulkJob | None:
    """The job, if it is this user's and this list's."""
    job = db.session.get(BulkJob, job_id, populate_existing=True)
    return job if job is not None and job.user_id == user_id and job.screen == screen else None


def recent(user_id: int, screen: str) -> list[BulkJob]:
    """The user's jobs on this list that run, or ended in the last hour (the list links to them)."""
    since = utcnow() - RECENT
    return list(db.session.scalars(
        select(BulkJob).where(BulkJob.user_id == user_id, BulkJob.screen == screen,
                              BulkJob.status.in_(("queued", "running")) | (BulkJob.finished_at > since))
        .order_by(BulkJob.job_id.desc()).limit(3)))


# ---------------------------------------------------------------------------- running
def claim(job_id: int | None, runner: str) -> int | None:
    """Take a job that is queued, or running under a lease that ran out (one runner per job)."""
    now = utcnow()
    lease = dt.timedelta(seconds=current_app.config.get("BULK_JOB_LEASE_SECONDS", 120))
    open_job = (select(BulkJob.job_id)
                .where(BulkJob.status.in_(("queued", "running")),
                       (BulkJob.status == "queued") | (BulkJob.lease_until < now))
                .order_by(BulkJob.job_id).limit(1).with_for_update(skip_locked=True))
    if job_id is not None:
        open_job = open_job.where(BulkJob.job_id == job_id)
    claimed = db.session.execute(
        update(BulkJob).where(BulkJob.job_id == open_job.scalar_subquery())
        .values(status="running", runner=runner, lease_until=now + lease, updated_at=now,
                started_at=func.coalesce(BulkJob.started_at, now))
        .returning(BulkJob.job_id)).scalar()
    db.session.commit()
    return claimed


def view_for(app: Flask, screen: str) -> Any:
    for view in app.appbuilder.baseviews:
        if view.endpoint == screen:
            return view
    raise LookupError(screen)


def run(app: Flask, job_id: int | None = None, runner: str | None = None,
        max_batches: int | None = None) -> int | None:
    """Claim the job (or any open job when None) and run it to its end; returns the job run, or None."""
    runner = runner or runner_name()
    with app.app_context():
        try:
            claimed = claim(job_id, runner)
            if claimed is None:
                return None
            job = db.session.get(BulkJob, claimed)
            view = view_for(app, job.screen)
            path = f"/bulk-jobs/{job.job_id}"
            # a request of its own for the views' helpers and the user's language; the selection is
            # read from the job's stored arguments (app/lists/selection.py), not from this request
            with app.test_request_context(path), force_locale(job.locale):
                batches = Batches(app, view, job, runner)
                try:
                    batches.run(max_batches)
                except DBAPIError:
                    raise  # the database went away: the lease runs out and the job is taken over later
                except Exception:
                    db.session.rollback()
                    batches.end("failed", _("Stopped after %(done)s of %(total)s rows on an unexpected error.",
                                            done=f"{batches.done:,}", total=f"{batches.total:,}"))
                    raise
            return claimed
        except Exception:
            log.exception("bulk job %s", job_id)
            db.session.rollback()
            raise
        finally:
            db.session.remove()


class Batches:
    """One claimed job, run as its user in this request context: batch after batch, each committed."""

    def __init__(self, app: Flask, view: Any, job: BulkJob, runner: str) -> None:
        self.app, self.view, self.runner = app, view, runner
        self.job_id, self.action, self.total = job.job_id, job.action, job.total
        self.arguments = job.arguments
        self.done, self.last = job.done, job.last_key
        self.model = view.datamodel.obj
        self.table = self.model.__tablename__
        self.batch = int(app.config.get("BULK_JOB_BATCH", 2_000))
        self.user = db.session.get(User, job.user_id)
        self.retries = 0
        self.columns = export_columns(self.model, view.label_columns) if self.action == "export" else []
        self.rows: list[Any] = []
        self.position = self.arguments.get("position")

    def allowed(self) -> bool:
        """The job's user's roles hold the action's permission on the list (checked at each start)."""
        sm = self.view.appbuilder.sm
        roles = [role.id for role in sm.get_user_roles(self.user)]
        return sm.exist_permission_on_roles(self.view.class_permission_name, PERMISSIONS[self.action], roles)

    def run(self, max_batches: int | None = None) -> None:
        if self.user is None or not self.user.is_active or not self.allowed():
            self.end("failed", _("Refused: your role may not do this on %(what)s; nothing more was changed.",
                                 what=self.what()))
            return
        # the audit triggers and the logs entry name the user (app/audit/context.py)
        g.user = g._login_user = self.user
        setattr(g, VIA_KEY, f"bulk job {self.job_id}")
        ran = 0
        while max_batches is None or ran < max_batches:
            ran += 1
            if not self.one():
                return

    def what(self) -> str:
        return str(self.view.list_title).lower()

    def keys(self) -> tuple[Any, list[int]]:
        """The primary key, and the next batch of keys of the selection above the last one done.

        An export's next rows in the list's order instead (kept in `self.rows` for `write_part`).
        """
        pk = primary_key(self.model)
        if self.action == "export":
            args = self.arguments.get("args", {})
            self.rows, self.position = bulk_exports.next_rows(self.view, selection(self.view, args), args,
                                                              self.position, self.batch, self.columns)
            return pk, [getattr(row, pk.key) for row in self.rows]
        keys = selection(self.view, self.arguments.get("args", {})).with_entities(pk).order_by(None)
        if self.last is not None:
            keys = keys.filter(pk > self.last)
        return pk, [key for (key,) in keys.order_by(pk).limit(self.batch)]

    def one(self) -> bool:
        """Run the next batch; False when the job has ended (done, refused, cancelled, taken over)."""
        session = db.session
        pk, keys = self.keys()
        if not keys:
            if self.action == "export" and self.done == 0:
                self.write_part(pk, [])  # the header alone
            self.end("done", None)
            return False
        try:
            changed = self.apply(pk, keys)
        except DBAPIError as exc:
            session.rollback()
            sqlstate = getattr(exc.orig, "sqlstate", None) or ""
            if exc.connection_invalidated or sqlstate[:2] == "08" or sqlstate in SERVER_GOING:
                raise  # the database went away: the lease runs out and the job is taken over later
            if sqlstate in CONFLICTS and self.retries < RETRIES:
                self.retries += 1  # a deadlock with another writer: the same batch again
                return True
            self.end("failed", self.refusal(pk, keys, exc))
            return False
        except bulk.BulkRefused as exc:
            session.rollback()
            self.end("failed", self.stopped(str(exc)))
            return False
        self.retries = 0
        advanced = session.execute(
            update(BulkJob).where(BulkJob.job_id == self.job_id, BulkJob.status == "running",
                                  BulkJob.runner == self.runner)
            .values(done=BulkJob.done + changed, last_key=keys[-1], arguments=self.moved(), updated_at=utcnow(),
                    lease_until=utcnow() + dt.timedelta(seconds=self.app.config.get("BULK_JOB_LEASE_SECONDS", 120))))
        if not advanced.rowcount:  # cancelled, or taken over by another runner after our lease ran out
            session.rollback()
            self.summary(self.current_status())
            return False
        session.commit()
        self.done += changed
        self.last = keys[-1]
        self.arguments = self.moved()
        return True

    def moved(self) -> dict[str, Any]:
        """The job's arguments with an export's position after this batch (a runner taking over goes on)."""
        return {**self.arguments, "position": self.position} if self.action == "export" else self.arguments

    def apply(self, pk: Any, keys: list[int]) -> int:
        session = db.session
        where = pk.in_(keys)
        if self.action == "delete":
            statement = delete(self.model).where(where)
        elif self.action == "set":
            column = self.arguments["column"]
            value = loaded_value(self.model, column, self.arguments.get("value"))
            # rows changed since the job was asked: the forms' rule still holds (a refusal stops the job)
            bulk.refuse_disagreeing(session, session.query(self.model).filter(where), self.model, column, value,
                                    self.view.edit_columns)
            statement = update(self.model).where(where).values({column: value})
        else:
            return self.write_part(pk, keys)
        statement = statement.returning(pk).execution_options(synchronize_session=False)
        return len(session.execute(statement).all())

    def write_part(self, pk: Any, keys: list[int]) -> int:
        """The batch's rows (read by `keys`, in the list's order) as one part of the export's CSV."""
        return bulk_exports.write_part(self.job_id, self.rows, self.columns)

    def refusal(self, pk: Any, keys: list[int], exc: SQLAlchemyError) -> str:
        """Why the database refused the batch, naming what still depends on the rows when it can."""
        why = friendly(exc)
        if self.action == "delete":
            try:
                rows = db.session.query(self.model).filter(pk.in_(keys))
                blocking = bulk.blocking_dependents(db.session, rows, self.model)
            except SQLAlchemyError:
                db.session.rollback()
                blocking = []
            if blocking:
                why = ", ".join(_("%(n)s with %(what)s", n=f"{n:,}", what=w) for w, n in blocking) + ". " \
                    + _("Delete or move those first.")
        return self.stopped(why)

    def stopped(self, why: str) -> str:
        return _("Stopped after %(done)s of %(total)s rows: %(why)s", done=f"{self.done:,}",
                 total=f"{self.total:,}", why=why)

    def current_status(self) -> str:
        return db.session.scalar(select(BulkJob.status).where(BulkJob.job_id == self.job_id)) or "cancelled"

    def end(self, status: str, message: str | None) -> None:
        """Mark the job ended (if still ours) and log what it did in all."""
        ended = db.session.execute(
            update(BulkJob).where(BulkJob.job_id == self.job_id, BulkJob.status == "running",
                                  BulkJob.runner == self.runner)
            .values(status=status, message=message, finished_at=utcnow(), updated_at=utcnow(),
                    lease_until=None)).rowcount
        db.session.commit()
        self.summary(status if ended else self.current_status(), message)

    def summary(self, status: str, message: str | None = None) -> None:
        """One `bulk delete` / `bulk set` / `export` entry: the rows the job changed (or wrote) in all."""
        if self.done == 0 and status != "done":
            return
        entry = {"rows": self.done, "job": self.job_id, "status": status,
                 "selection": self.arguments.get("args", {})}
        if self.action == "set":
            entry.update(field=self.arguments.get("column"), value=self.arguments.get("value"))
        if self.action == "export":
            entry.update(table=self.table, complete=status == "done")
        if message:
            entry["message"] = message
        audit_log.record(LOGGED_AS[self.action], entry, user_id=self.user.user_id if self.user else None,
                         table=self.table)


# ---------------------------------------------------------------------------- the scheduler's pickup
def run_open(app: Flask) -> str:
    """Run every queued job, and every job whose runner's lease ran out (the scheduler's `bulk-jobs`)."""
    ran = []
    while (job_id := run(app)) is not None:
        ran.append(job_id)
    with app.app_context():
        try:
            expired = bulk_exports.drop_old_exports()
        finally:
            db.session.remove()
    return f"{len(ran)} bulk job(s) run" + (f" ({', '.join(map(str, ran))})" if ran else "") \
        + (f"; {expired} old export(s) removed" if expired else "")


def progress(job: BulkJob) -> dict[str, Any]:
    """What the progress panel shows (its JSON), in the user's language."""
    labels = {"queued": _("Queued"), "running": _("Running"), "done": _("Done"), "failed": _("Failed"),
              "cancelled": _("Cancelled")}
    return {"job": job.job_id, "status": job.status, "status_label": labels.get(job.status, job.status),
            "done": job.done, "total": job.total, "finished": job.status not in ("queued", "running"),
            "counts": _("%(done)s of %(total)s rows", done=f"{job.done:,}", total=f"{job.total:,}"),
            "message": job.message or ""}

