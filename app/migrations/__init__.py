"""Numbered schema migrations (`mNNNN_name.py`, each with `async up(db)` and `async down(db)`),
applied in order by `MigrationRunner` and recorded in `schema_migrations`."""

from app.migrations.runner import (
    Migration,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    MigrationRunner,
    MigrationStatus,
    discover,
)

__all__ = [
    "Migration",
    "MigrationError",
    "MigrationFailed",
    "MigrationLocked",
    "MigrationRunner",
    "MigrationStatus",
    "discover",
]
