"""`schema_migrations`: which numbered migrations have been applied."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow


class SchemaMigration(Document):
    version: int
    name: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "schema_migrations"
        use_revision = False
        indexes = [IndexModel([("version", ASCENDING)], name="version_unique", unique=True)]
