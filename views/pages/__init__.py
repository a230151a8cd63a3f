"""Custom pages: home, dashboard, pipeline board, search."""
