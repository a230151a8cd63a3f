"""The scheduler: jobs (catalog.py) run by `crm serve` at their intervals, one runner per job group
across every app server (advisory locks), their state in `scheduled_jobs`; what the operations page,
`crm status` and /health report about them (status.py, health.py)."""
