"""One model view per CRM table, derived from its model."""
