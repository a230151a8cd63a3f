"""Running an instance: the CLI, start-up bootstrap, the embedded database, the instance directory."""
