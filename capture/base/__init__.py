"""What every package builds on: settings, the database, Flask's extension objects,
the lifecycle vocabulary (conversion kinds, classes, stages)."""
