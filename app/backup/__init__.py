"""Backups: weekly full and daily incremental physical backups, encrypted at rest,
with restore drills (`crm backup ...`, `crm restore ...`)."""
