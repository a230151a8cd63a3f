"""customers.industry becomes a documented value (app/models/choices.py INDUSTRIES): free text is mapped.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

The seed and users wrote industries as free text in either language ("Retail" and "零售" for
one industry). Each known word becomes its value in set-based UPDATEs: the value itself in
any case, its English label, its Chinese label and a few synonyms (frozen here); blank text
becomes NULL and any other text "Other". Not a user's edit: the table's triggers are off
for it (no audit rows, no version bump, no webhooks), as in 0003 and 0015. The forms, the
API and the CSV import accept only the documented values (or their labels) from now on.
Downgrade keeps the values: the free text they replaced is not known any more.
"""
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

VALUES = ("Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy", "Education",
          "Other")
WORDS = {
    "Technology": ("internet", "software", "it", "tech", "互联网", "软件", "科技", "技术"),
    "Manufacturing": ("制造业", "制造"),
    "Retail": ("零售", "零售业"),
    "Healthcare": ("health", "medical", "医疗", "医疗保健"),
    "Finance": ("banking", "financial services", "金融", "银行"),
    "Logistics": ("物流",),
    "Energy": ("能源",),
    "Education": ("教育",),
    "Other": ("其他",),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade():
    pairs = [(v.lower(), v) for v in VALUES] + [(w, v) for v, words in WORDS.items() for w in words]
    rows = ", ".join(f"({_literal(w)}, {_literal(v)})" for w, v in pairs)
    op.execute("ALTER TABLE customers DISABLE TRIGGER USER")
    op.execute("UPDATE customers SET industry = NULL WHERE btrim(industry) = ''")
    op.execute(f"UPDATE customers AS c SET industry = m.value FROM (VALUES {rows}) AS m(word, value) "
               "WHERE lower(btrim(c.industry)) = m.word AND c.industry IS DISTINCT FROM m.value")
    op.execute(f"UPDATE customers SET industry = 'Other' WHERE industry IS NOT NULL "
               f"AND industry NOT IN ({', '.join(map(_literal, VALUES))})")
    op.execute("ALTER TABLE customers ENABLE TRIGGER USER")


def downgrade():
    pass  # the values stay: what free text each one replaced is not kept
