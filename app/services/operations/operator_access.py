"""Operator-only surfaces (`systemStatus`, `/metrics`): who may see cross-tenant figures."""

from __future__ import annotations

import hmac
from enum import StrEnum

from app.config import Settings

OPERATOR_KEY_HEADER = "x-operator-key"


class OperatorAccess(StrEnum):
    GRANTED = "granted"
    MISSING_OR_WRONG_KEY = "missing_or_wrong_key"  # a key is configured and was not sent
    DISABLED = "disabled"  # production without OPERATOR_API_KEY
    OPEN_IN_DEVELOPMENT = "open_in_development"  # no key configured outside production


def operator_access(settings: Settings, sent_key: str | None) -> OperatorAccess:
    """With `OPERATOR_API_KEY` set, only that key opens; without it production refuses and
    development leaves the decision to the caller."""
    configured = settings.operator_api_key
    if configured:
        if sent_key and hmac.compare_digest(sent_key.encode(), configured.encode()):
            return OperatorAccess.GRANTED
        return OperatorAccess.MISSING_OR_WRONG_KEY
    if settings.is_production:
        return OperatorAccess.DISABLED
    return OperatorAccess.OPEN_IN_DEVELOPMENT
