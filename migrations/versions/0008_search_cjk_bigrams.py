"""Search: CJK bigram indexes, so one- and two-character Chinese queries are one index lookup.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-29

Migration 0004's word indexes hold every CJK character as its own token; a
two-character query such as 华为 was a phrase (华 followed by 为): the index
returned every row with both characters anywhere, and each had to be re-read and
its vector recomputed to check the order, hundreds of thousands of rows for
common characters. crm_cjk_bigrams(column) is the array of the column's pairs of
consecutive CJK characters; a GIN index on it answers "contains 华为" exactly
(`@> ARRAY['华为']`, no recheck). Single characters keep using the word index
(one token, exact as well). The column list is the word columns of 0004
(a test keeps them in step with app.models.searchable).
"""
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

BIGRAM_COLUMNS = {
    "customers": ["name", "industry", "location"],
    "contacts": ["first_name", "last_name", "position"],
    "leads": ["source"],
    "opportunities": ["name"],
    "activities": ["subject", "description"],
    "service_tickets": ["subject", "description"],
}

STATISTICS = 1000  # most-common-elements kept per bigram index (default: 100)

# Han (BMP, extension A, compatibility), kana, Hangul: as app.search.text.CJK_RANGES
CJK_CLASS = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"

FUNCTION = f"""
CREATE FUNCTION crm_cjk_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT substr(run[1], i, 2)
             FROM regexp_matches(t, '{CJK_CLASS}{{2,}}', 'g') AS run,
                  generate_series(1, length(run[1]) - 1) AS i)"""


def _indexes():
    for table, columns in BIGRAM_COLUMNS.items():
        for column in columns:
            yield (table, f"ix_{table}_{column}_bigrams",
                   f"CREATE INDEX ix_{table}_{column}_bigrams ON {table} USING gin (crm_cjk_bigrams({column}))")


def upgrade():
    op.execute(FUNCTION)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # GIN builds on existing rows
    for _table, name, ddl in _indexes():
        op.execute(ddl)
        # The planner's estimates for `@>` come from the statistics of the indexed expression;
        # a finer sample makes a rare or absent bigram look rare, not "0.3 % of the rows".
        op.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {STATISTICS}")
    for table in BIGRAM_COLUMNS:
        op.execute(f"ANALYZE {table}")


def downgrade():
    for _table, name, _ddl in _indexes():
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS crm_cjk_bigrams(text)")
