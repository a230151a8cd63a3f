"""Search indexes: pg_trgm (substring) and tsvector (words, CJK unigrams) GIN indexes.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29

Substring search ("contains") is served by pg_trgm GIN indexes on each
searchable column. Word search ("matches words") is served by GIN indexes on
crm_search_vector(column): the English text-search vector of the column with
every CJK character made a word of its own, so Chinese of any length (one and
two characters included, where pg_trgm has no trigram to look up) is found as
a phrase of consecutive characters.

pg_trgm is a trusted extension (PostgreSQL 13+): the database owner running
migrations may create it; the runtime role needs no extra privilege.
The column list is a frozen copy of app.models.searchable (a test keeps them in step).
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> (trigram columns, word columns)
SEARCH_COLUMNS = {
    "customers": (["name", "industry", "location"], ["name", "industry", "location"]),
    "contacts": (["first_name", "last_name", "email", "phone", "position"],
                 ["first_name", "last_name", "position"]),
    "leads": (["source"], ["source"]),
    "opportunities": (["name"], ["name"]),
    "activities": (["subject", "description"], ["subject", "description"]),
    "service_tickets": (["subject", "description"], ["subject", "description"]),
}

# Han (BMP, extension A, compatibility), kana, Hangul: as app.search.text.CJK_RANGES
CJK_CLASS = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"

FUNCTIONS = [
    f"""
CREATE FUNCTION crm_cjk_spaced(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(t, '({CJK_CLASS})', ' \\1 ', 'g')""",
    """
CREATE FUNCTION crm_search_vector(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('english'::regconfig, coalesce(crm_cjk_spaced(t), ''))""",
]


def _indexes():
    for table, (trigram, words) in SEARCH_COLUMNS.items():
        for column in trigram:
            yield (f"ix_{table}_{column}_trgm",
                   f"CREATE INDEX ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")
        for column in words:
            yield (f"ix_{table}_{column}_words",
                   f"CREATE INDEX ix_{table}_{column}_words ON {table} "
                   f"USING gin (crm_search_vector({column}))")


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for function in FUNCTIONS:
        op.execute(function)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # GIN builds on existing rows
    for _name, ddl in _indexes():
        op.execute(ddl)


def downgrade():
    for name, _ddl in _indexes():
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS crm_search_vector(text)")
    op.execute("DROP FUNCTION IF EXISTS crm_cjk_spaced(text)")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
