"""The search indexes of migrations 0004 and 0008, declared on the tables so models and migrations agree."""
from __future__ import annotations

from sqlalchemy import Index, func

from app.models.searchable import INDEXED_MODELS, substring_columns, word_columns


def _declare() -> None:
    for model in INDEXED_MODELS:
        table = model.__table__
        for name in substring_columns(model):
            Index(f"ix_{table.name}_{name}_trgm", table.c[name], postgresql_using="gin",
                  postgresql_ops={name: "gin_trgm_ops"})
        for name in word_columns(model):
            Index(f"ix_{table.name}_{name}_words", func.crm_search_vector(table.c[name]),
                  postgresql_using="gin")
            Index(f"ix_{table.name}_{name}_bigrams", func.crm_cjk_bigrams(table.c[name]),
                  postgresql_using="gin")


_declare()
