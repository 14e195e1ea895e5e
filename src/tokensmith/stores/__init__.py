"""Storage: narrow protocols and their implementations."""
