"""Planner and timeout settings for the rest of one transaction (SET LOCAL), and back."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import column, text
from sqlalchemy.orm import Session

# For lookups through a search (GIN) index whose matches the planner can only guess: no
# sequential scan (a scan that "soon finds" rows that are in fact rare reads the whole table);
# memory enough that the bitmap of a common term stays exact (a lossy one re-checks whole
# pages by recomputing the indexed expressions); no parallel workers for a bounded read; a plan
# for the actual pattern even where psycopg has prepared the statement (a generic plan cannot
# tell a rare term from a common one).
INDEX_LOOKUP_SETTINGS = {"enable_seqscan": "off", "work_mem": "32MB", "max_parallel_workers_per_gather": "0",
                         "plan_cache_mode": "force_custom_plan"}


def set_for_transaction(session: Session, values: dict[str, str]) -> dict[str, str]:
    """Set these settings until the transaction ends; returns the ones in force before (to restore)."""
    names = list(values)
    columns = ", ".join(f"current_setting(:n{i}), set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    params = {**{f"n{i}": n for i, n in enumerate(names)}, **{f"v{i}": values[n] for i, n in enumerate(names)}}
    # a typed SELECT (.columns): the audit hook knows it writes nothing and adds no round trip
    statement = text(f"SELECT {columns}").columns(*[column(f"c{i}") for i in range(2 * len(names))])
    row = session.execute(statement, params).one()
    return {name: row[2 * i] for i, name in enumerate(names)}


@contextmanager
def settings_in_force(session: Session, values: dict[str, str]) -> Iterator[None]:
    """These settings for the statements run inside, then the ones in force before again.

    Put back only after statements that ran: a failed one leaves the transaction to be rolled back with
    its own error, not one from putting them back (a `finally` would raise InFailedSqlTransaction instead).
    """
    before = set_for_transaction(session, values)
    yield  # no try/finally: see above
    set_for_transaction(session, before)
