"""Covering indexes for the follower policies: a customer's owner and an activity's contact read from the index.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07

A Sales Rep's contacts and activities follow their customers (migration 0027): each row the
policy tests looks its customer up by key, and every list of a rep's activities read through
their customers (app/lists/scope.py, `followed_in_scope`) visited each activity's row for the
columns the policy reads (customer_id, contact_id). At scale 1, rep22's last page of their
33,021 activities read 32,000 heap pages: 224 ms.

- customers (customer_id) INCLUDE (owner_id), unique: the policy's lookup of a row's customer
  and its owner is an index-only probe, not a key lookup and a visit of the customer's row.
- activities (customer_id, activity_date, activity_id) INCLUDE (contact_id), in place of 0010's
  index without contact_id: a rep's activities in date order, and the policy's test of each,
  are read from the index alone (that page: 59 ms).

Built CONCURRENTLY (the tables stay writable; seconds at scale 1). Resumable: a build that
was interrupted leaves an invalid index, dropped and built again on the next run.
"""
from alembic import op
from sqlalchemy import text

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

CUSTOMERS = "ix_customers_customer_id_owner_id"
ACTIVITIES = "ix_activities_customer_id_activity_date"
BUILDING = ACTIVITIES + "_next"
COLUMNS = "(customer_id, activity_date, activity_id)"


def _index(name: str) -> tuple[bool, bool] | None:
    """(valid, has included columns) of index `name`; None when there is none."""
    row = op.get_bind().execute(text(
        "SELECT i.indisvalid, i.indnatts > i.indnkeyatts FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :n"), {"n": name}).first()
    return None if row is None else (row[0], row[1])


def _build(name: str, ddl: str) -> None:
    """CREATE INDEX CONCURRENTLY `name`, after dropping an invalid one an interrupted build left."""
    found = _index(name)
    if found is not None and not found[0]:
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(ddl.format(name=name))


def _replace_activities(include: str) -> None:
    """Build the activities' index as wanted under BUILDING, then put it in the place of ACTIVITIES."""
    found = _index(ACTIVITIES)
    if found is not None and found == (True, bool(include)):
        return  # done already (a rerun)
    _build(BUILDING, f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {{name}} ON activities {COLUMNS}{include}")
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {ACTIVITIES}")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {ACTIVITIES}")


def upgrade():
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run inside a transaction
        _build(CUSTOMERS, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers (customer_id) "
                          "INCLUDE (owner_id)")
        _replace_activities(" INCLUDE (contact_id)")


def downgrade():
    with op.get_context().autocommit_block():
        _replace_activities("")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {CUSTOMERS}")
