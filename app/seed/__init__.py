"""Synthetic data at scale: `crm seed --scale S` (see cli.py, loader.py)."""
