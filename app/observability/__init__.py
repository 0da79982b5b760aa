"""Request context, structured logs, metrics."""
