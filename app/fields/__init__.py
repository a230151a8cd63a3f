"""Custom fields: the catalogue, the controlled DDL path (owner role), validation and `crm fields`."""
