"""Report snapshots: generators that write one `reports` row per report type, and what the dashboard reads."""
