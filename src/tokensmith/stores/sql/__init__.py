"""SQLAlchemy 2 (async) implementations of the store protocols."""
