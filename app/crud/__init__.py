"""The low-code engine: a FAB screen derived from its model, the datamodel, forms, documented values."""
