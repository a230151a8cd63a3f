"""Data loaders: `crm seed --scale S` at scale, and the demo data of a new instance (a small scale)."""
