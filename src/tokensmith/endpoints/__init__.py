"""The HTTP edge: parse, check, call the pipeline, render."""
