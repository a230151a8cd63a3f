"""Encryption at rest for financial columns (customers.revenue, opportunities.value)."""
