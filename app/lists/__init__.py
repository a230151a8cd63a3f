"""List mechanics at millions of rows: keyset paging, cheap counts, planner settings, row HTML."""
