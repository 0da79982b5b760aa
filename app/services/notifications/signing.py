"""Signing merchants' webhooks per the Standard Webhooks specification (standardwebhooks.com),
with its reference library: `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per signing
secret, space-separated), so receivers verify with any Standard Webhooks library."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the HMAC-SHA256 key


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(
    message_id: str, at: datetime, body: str, signing_secrets: list[str]
) -> dict[str, str]:
    """The three headers of one attempt; every secret given signs (during a rotation, the new
    one and the one it replaces)."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
