"""Plain dataclasses that travel between pipeline stages; no I/O here."""
