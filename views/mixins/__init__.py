"""Behaviour the table views share: actions, history, CSV, paging, customer page, lead conversion."""
