"""The sales workflows: customer 360, lead conversion, the pipeline board."""
