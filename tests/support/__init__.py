"""Helpers the test modules share: plain functions, constants and the fixtures they import by name."""
