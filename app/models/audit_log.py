"""`audit_log`: who changed what in a tenant, and when (merchant mutations, operator actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow


class AuditLog(Document):
    tenant_id: str
    actor: str  # "api_key:rk_3f9a1c2b", "session_token:<staff id>", "cli:<user>"
    operation: str  # GraphQL mutation or CLI command, e.g. "approveReturn"
    target_id: str | None = None  # the record acted on (return id, sync job id, ...)
    summary: dict[str, Any] = Field(default_factory=dict)  # scrubbed variables: no secrets/PII
    request_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "audit_log"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="tenant_created"
            ),
            IndexModel([("tenant_id", ASCENDING), ("target_id", ASCENDING)], name="tenant_target"),
        ]
