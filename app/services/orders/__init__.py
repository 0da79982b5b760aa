"""Orders and customers: reading them, storing them (newer wins), keeping redacted customers
erased."""
