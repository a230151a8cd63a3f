"""Behaviour the table views share or opt into: action guard, show panels, CSV, lead conversion."""
