"""Covering indexes for the follower policies: the columns a policy reads, read from the index.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07

A Sales Rep's contacts and activities follow their customers (migration 0027): each row the
policy tests looks its customer up by key, and the activities' policy reads each row's
customer_id and contact_id. An index without them sends every row read to the table: at
scale 1, rep22's last page of their 33,021 activities read 32,000 heap pages (224 ms), and
the admin's activities page 5,000, whose keys are read through the date index, 125,000 (560 ms).

- customers (customer_id) INCLUDE (owner_id), unique: the policy's lookup of a row's customer
  and its owner is an index-only probe, not a key lookup and a visit of the customer's row.
- activities (customer_id, activity_date, activity_id) INCLUDE (contact_id), in place of 0010's
  index without it: a rep's activities in date order, and the policy's test of each, are read
  from the index alone (that page: 59 ms).
- activities (activity_date, activity_id) INCLUDE (customer_id, contact_id), in place of 0010's
  sort index: a deep page's keys in date order are an index-only scan (that page: 34 ms).

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
# index on activities -> (its key columns, the columns it carries from this migration on)
ACTIVITIES = {
    "ix_activities_customer_id_activity_date": ("customer_id, activity_date, activity_id", "contact_id"),
    "ix_activities_activity_date_sort": ("activity_date, activity_id", "customer_id, contact_id"),
}


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


def _replace(name: str, keys: str, include: str) -> None:
    """Build activities' index `name` on `keys` carrying `include` (none: "") under a new name, then put it in place."""
    found = _index(name)
    if found is not None and found == (True, bool(include)):
        return  # done already (a rerun)
    building = f"{name}_next"
    carried = f" INCLUDE ({include})" if include else ""
    _build(building, f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {{name}} ON activities ({keys}){carried}")
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade():
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run inside a transaction
        _build(CUSTOMERS, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers (customer_id) "
                          "INCLUDE (owner_id)")
        for name, (keys, include) in ACTIVITIES.items():
            _replace(name, keys, include)


def downgrade():
    with op.get_context().autocommit_block():
        for name, (keys, _include) in ACTIVITIES.items():
            _replace(name, keys, "")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {CUSTOMERS}")
