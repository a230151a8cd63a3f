"""Caches derived from the tables' columns are emptied when a column is mapped or unmapped (no database)."""
from __future__ import annotations

import re

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql


def test_a_registered_forget_runs_once_per_change_however_often_it_registered():
    from app.fields.derived import FORGETS, forget_derived, on_columns_changed

    calls = []

    def forget() -> None:
        calls.append("forgot")

    assert on_columns_changed(forget) is forget and on_columns_changed(forget) is forget
    try:
        forget_derived()
        assert calls == ["forgot"]
    finally:
        FORGETS.remove(forget)


def test_a_mapped_then_unmapped_column_reaches_the_column_lists_encryption_and_crm_search():
    """Each cache is read (so filled) before the change: one left out of the registry keeps the old columns."""
    from sqlalchemy import select

    from app.crud.related import related_options
    from app.encryption.columns import _opening, encrypted_columns
    from app.fields import reflect
    from app.fields.catalog import FieldDef
    from app.models import Contact, Customer, searchable
    from app.search.conditions import Terms
    from app.search.service import ENTITIES, shared_statement

    entity = next(e for e in ENTITIES if e.model is Customer)

    def seen() -> dict[str, object]:
        sql = shared_statement(entity, Terms("renewal")).compile(dialect=postgresql.dialect())
        return {"title": searchable.title_columns(Customer), "long": searchable.long_text_columns(Customer),
                "substring": searchable.substring_columns(Customer), "words": searchable.word_columns(Customer),
                "sealed": [name for name, _c, _b in encrypted_columns(inspect(Customer))],
                "opened": [name for name, _c in _opening(Customer)[2]], "search": str(sql),
                # a contacts list joins each row's customer without its amounts (app/crud/related.py)
                "related": set(re.findall(r"customers_1\.(\w+)", str(select(Contact).options(
                    *related_options(Contact, False)).compile(dialect=postgresql.dialect()))))}

    mapped = {table: [column.info["custom"] for column in reflect.mapped_extras(model).values()]
              for table, model in reflect.MODELS.items()}  # what other tests of this process mapped
    amount = FieldDef(0, "customers", "tidy_budget", "amount", "Budget", None, None, False, True, "active", "field")
    added = {**mapped, "customers": mapped["customers"] + [
        reflect.Extra("customers", "tidy_notes", "text", True),  # uncatalogued text: a long text
        reflect.Extra("customers", "tidy_budget", "bytea", True, amount)]}
    before = seen()
    searched = "customers.tidy_notes ILIKE"  # a condition of the statement (its SELECT list maps all columns)
    assert searched not in before["search"]
    try:
        assert reflect.apply(reflect.Reflected(1, added))
        after = seen()
        assert "tidy_notes" in after["long"] and "tidy_notes" in after["substring"]
        assert "tidy_notes" in after["words"] and searched in after["search"]
        assert after["sealed"] == before["sealed"] + ["tidy_budget"]
        assert after["opened"] == before["opened"] + ["tidy_budget"]  # opened on load, as the columns say
        assert "revenue" not in after["related"] and "tidy_notes" in after["related"]
        assert "tidy_budget" not in after["related"]  # deferred too: the new amount is never joined
    finally:
        reflect.apply(reflect.Reflected(0, mapped))
    assert seen() == before


def test_the_keyed_columns_of_a_searched_list_are_kept_per_table_and_emptied_with_the_columns_caches():
    """keyed_filters reads which columns lead a (column, key) B-tree once per table, not on every request."""
    from sqlalchemy import and_

    from app.fields.derived import forget_derived
    from app.lists.matches import keyed_columns, keyed_filters
    from app.models import Customer

    table = Customer.__table__
    forget_derived()
    condition = and_(table.c.industry == "Finance", table.c.version == 1, table.c.name.ilike("%acme%"))
    assert [part.left.name for part in keyed_filters(table, condition)] == ["industry"]  # ix_customers_industry_sort
    assert "industry" in keyed_columns(table) and "version" not in keyed_columns(table)
    keyed_filters(table, condition)
    assert keyed_columns.cache_info().misses == 1 and keyed_columns.cache_info().currsize == 1
    forget_derived()
    assert keyed_columns.cache_info().currsize == 0
