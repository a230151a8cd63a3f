"""Search: substring (pg_trgm) and word (tsvector) search on the CRM tables, in Chinese and English."""
