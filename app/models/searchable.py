"""Which columns are searchable, derived from the tables (one rule for indexes, filters and /search/).

Here, with the tables, so the search indexes can be declared on them (app/models/search_indexes.py).
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import String, Text, inspect

from app.fields.derived import columns_cache
from app.models.choices import CHOICE_COLUMNS
from app.models.crm import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket

SYSTEM_COLUMNS = {"created_at", "updated_at", "version"}

# Tables with search indexes (migration 0004) and in the CRM-wide search, in display order.
INDEXED_MODELS: tuple[type, ...] = (Customer, Contact, Lead, Opportunity, Activity, ServiceTicket)

# Formatted identifiers: searched as substrings only (words/stemming mean nothing in them).
IDENTIFIER_COLUMNS = {"email", "phone"}
# Documented values that still name a row and are searched as words: an industry (free text until 0028,
# its indexes of 0004 kept); the other documented values (statuses, stages) are not searched
SEARCHED_CHOICES = {("customers", "industry")}


def is_custom(column) -> bool:
    """An extra column mapped at run time (app/fields/reflect.py): a custom field or one a DBA added."""
    return "custom" in column.info


def custom_type(column) -> str | None:
    """A custom field's type (text, long_text, choice, ...; guessed for a column added by hand), else None."""
    return column.info["custom"].field_type if is_custom(column) else None


def custom_choice(column) -> bool:
    """A custom field of documented values (its filter is a select, not a search)."""
    return custom_type(column) == "choice"


def custom_text(column) -> bool:
    """A custom text or long-text field: searched like the long texts."""
    return custom_type(column) in ("text", "long_text")


@columns_cache  # cleared when the columns change (a custom field: app/fields/reflect.py)
@cache  # per model: read on every search
def title_columns(model: type) -> tuple[str, ...]:
    """The short text columns that name a row (used by lookups and search)."""
    table = inspect(model).local_table
    return tuple(c.name for c in table.columns
                 if isinstance(c.type, String) and c.name not in SYSTEM_COLUMNS and not is_custom(c)
                 and (c.type.length or 0) >= 50
                 and ((table.name, c.name) not in CHOICE_COLUMNS or (table.name, c.name) in SEARCHED_CHOICES))


@columns_cache
@cache  # per model: read on every search
def long_text_columns(model: type) -> tuple[str, ...]:
    """The long-text columns (descriptions), other than the title columns, and the custom text fields."""
    table = inspect(model).local_table
    return tuple(c.name for c in table.columns if c.name not in title_columns(model) and (
        custom_text(c) if is_custom(c) else isinstance(c.type, Text)))


@columns_cache
@cache  # per model: read on every search
def substring_columns(model: type) -> tuple[str, ...]:
    """Columns with a trigram index: the naming text columns and the long-text columns."""
    return title_columns(model) + long_text_columns(model)


@columns_cache
@cache  # per model: read on every search
def word_columns(model: type) -> tuple[str, ...]:
    """Columns with a word (tsvector) index: the substring columns that hold words (of the custom fields,
    the long texts: a text field has a trigram index only, app/fields/ddl.py)."""
    table = inspect(model).local_table
    return tuple(name for name in substring_columns(model) if name not in IDENTIFIER_COLUMNS
                 and (not is_custom(table.columns[name]) or custom_type(table.columns[name]) == "long_text"))


def is_text_column(model: type, name: str) -> bool:
    column = inspect(model).local_table.columns.get(name)
    return column is not None and isinstance(column.type, (String, Text))


def index_names(model: type) -> set[str]:
    """Names of the search indexes a model's table must have."""
    table = model.__tablename__
    return ({f"ix_{table}_{c}_trgm" for c in substring_columns(model)}
            | {f"ix_{table}_{c}_words" for c in word_columns(model)}
            | {f"ix_{table}_{c}_bigrams" for c in word_columns(model)})
