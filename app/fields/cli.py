"""`crm fields add|list|remove|restore|purge|sync|label|choices|widen`: custom fields from the command line."""
from __future__ import annotations

from typing import Optional

import click
from flask.cli import AppGroup

from app.fields.catalog import FieldDef, all_fields, fields_for
from app.fields.changes import (add_field, purge_field, rechoose_field, relabel_field, remove_field, restore_field,
                                widen_field)
from app.fields.rules import FieldError, FieldSpec, check_table
from app.fields.upkeep import sync_fields
from app.fields.usage import listed

fields_group = AppGroup("fields", help="Custom fields: extra columns of the CRM tables, on every screen.")
TYPES_HELP = "text, long_text, number, amount, date, datetime, boolean, choice or link:TABLE"


def _fail(exc: FieldError) -> click.ClickException:
    return click.ClickException(str(exc))


def _apply(change, table: str, column: str, *args):
    """`change(table, column, *args)` on one of the CRM tables; a refusal is the command's error."""
    try:
        check_table(table)
        return change(table, column, *args)
    except FieldError as exc:
        raise _fail(exc) from None


def describe(found: FieldDef) -> str:
    """One line per field: table.column, type, flags, labels, choices."""
    flags = [flag for flag, on in (("required", found.required), ("financial", found.financial),
                                   ("removed", found.hidden), ("from sync", found.source == "sync")) if on]
    line = f"{found.table_name}.{found.column_name}  {found.field_type}"
    line += f" [{', '.join(flags)}]" if flags else ""
    line += f"  \"{found.label_en or ''}\" / \"{found.label_zh or ''}\""
    if found.choices:
        line += "  choices: " + ", ".join(f"{c['value']}={c['label_en']}={c['label_zh']}" for c in found.choices)
    return line


@fields_group.command("add")
@click.argument("table")
@click.argument("name")
@click.option("--type", "field_type", required=True, help=TYPES_HELP)
@click.option("--label-en", help="The English label (default: from the name).")
@click.option("--label-zh", help="The Chinese label (default: the English one).")
@click.option("--choices", help="A choice's values: a,b,c or value=English=中文,...")
@click.option("--required", is_flag=True, help="Forms refuse a record without a value.")
@click.option("--financial", is_flag=True, help="An amount stored encrypted, like customers' revenue.")
def add_command(table: str, name: str, field_type: str, label_en: Optional[str], label_zh: Optional[str],
                choices: Optional[str], required: bool, financial: bool) -> None:
    """Add the column NAME of type --type to TABLE (a real column, its index, catalogued and audited)."""
    spec = FieldSpec(table, name, field_type, label_en, label_zh, choices or [], required, financial)
    try:
        added = add_field(spec)
    except FieldError as exc:
        raise _fail(exc) from None
    click.echo(f"added {describe(added)}")


@fields_group.command("list")
@click.argument("table", required=False)
def list_command(table: Optional[str]) -> None:
    """The custom fields of TABLE (or of every table), removed ones included."""
    try:
        found = fields_for(check_table(table), include_hidden=True) if table else all_fields(include_hidden=True)
    except FieldError as exc:
        raise _fail(exc) from None
    for field in found:
        click.echo(describe(field))
    if not found:
        click.echo("no custom fields")


@fields_group.command("remove")
@click.argument("table")
@click.argument("column")
def remove_command(table: str, column: str) -> None:
    """Hide COLUMN of TABLE from every screen; its data stays (crm fields restore). Says what uses it."""
    uses = _apply(remove_field, table, column)
    click.echo(f"removed {table}.{column}")
    if uses:  # said, not refused: removing can be undone, and the saved views keep it for a restore
        click.echo(f"still used by (they leave it out while it is removed): {listed(uses)}")


@fields_group.command("restore")
@click.argument("table")
@click.argument("column")
def restore_command(table: str, column: str) -> None:
    """Show a removed field again, with its data."""
    _apply(restore_field, table, column)
    click.echo(f"restored {table}.{column}")


@fields_group.command("purge")
@click.argument("table")
@click.argument("column")
@click.option("--force", is_flag=True, help="Purge even while saved views or a waiting CSV import use it: "
                                            "the saved views lose their filters, sort and column by it.")
def purge_command(table: str, column: str, force: bool) -> None:
    """Drop a removed field's column and data for good (refused while something uses it, unless --force)."""
    uses = _apply(lambda t, c: purge_field(t, c, force=force), table, column)
    click.echo(f"purged {table}.{column}")
    if uses:
        click.echo(f"taken out of: {listed(uses)}")


@fields_group.command("label")
@click.argument("table")
@click.argument("column")
@click.option("--label-en")
@click.option("--label-zh")
@click.option("--required/--optional", default=None, help="Whether forms require a value.")
def label_command(table: str, column: str, label_en: Optional[str], label_zh: Optional[str],
                  required: Optional[bool]) -> None:
    """Give a field new labels (or make it required or optional)."""
    click.echo(f"changed {describe(_apply(relabel_field, table, column, label_en, label_zh, required))}")


@fields_group.command("choices")
@click.argument("table")
@click.argument("column")
@click.option("--choices", required=True, help="Every value, old ones included: a,b,c or value=English=中文,...")
def choices_command(table: str, column: str, choices: str) -> None:
    """Relabel a choice field's values or add values (none may be taken away)."""
    click.echo(f"changed {describe(_apply(rechoose_field, table, column, choices))}")


@fields_group.command("widen")
@click.argument("table")
@click.argument("column")
@click.option("--type", "field_type", required=True, help="text to long_text, choice to text, amount to number.")
def widen_command(table: str, column: str, field_type: str) -> None:
    """Change a field's type to a wider one (no table rewrite)."""
    click.echo(f"widened {describe(_apply(widen_field, table, column, field_type))}")


@fields_group.command("sync")
def sync_command() -> None:
    """Register columns added by hand, forget dropped ones, finish indexes left half-built."""
    notes = sync_fields()
    for note in notes:
        click.echo(note)
    changed = sum(not note.startswith("skipped") for note in notes)
    click.echo("fields in sync" if not changed else f"{changed} change{'s' if changed != 1 else ''}")
