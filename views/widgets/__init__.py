"""Widgets and templates glue for FAB's list and filter forms."""
