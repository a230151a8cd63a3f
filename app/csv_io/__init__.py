"""CSV export of any list (streamed) and CSV import of customers, contacts and leads (dry run, then all-or-nothing)."""
