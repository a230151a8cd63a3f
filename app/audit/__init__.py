"""The audit log: partitions of `logs`, who-did-it context for the triggers, app events, queries.

Row changes are captured by database triggers (migration 0006); application
events (logins, exports, backups, ...) go through `app.audit.record.record`.
"""
