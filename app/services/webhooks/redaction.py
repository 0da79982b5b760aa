"""Erasing a customer's personal data: pseudonymous emails and scrubbed webhook payloads.

The pseudonym is stable per (tenant, customer), so a redacted customer's returns still group
together, and keyed with the app secret, so it cannot be reversed by hashing guessed emails.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

PSEUDONYM_DOMAIN = "redacted.invalid"

# Keys whose values identify a person wherever they appear in a Shopify payload.
_PERSON_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "first_name",
        "last_name",
        "browser_ip",
        "client_details",
        "customer_locale",
    }
)
# Keys holding a whole postal address (with names and phones in it).
_ADDRESS_KEYS = frozenset(
    {"shipping_address", "billing_address", "default_address", "addresses", "destination"}
)


def pseudonym_email(secret: str, tenant_id: str, customer_key: str) -> str:
    """`redacted-<hmac>@redacted.invalid` for a customer id (or, lacking one, an email)."""
    message = f"{tenant_id}:{customer_key}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:24]
    return f"redacted-{digest}@{PSEUDONYM_DOMAIN}"


def scrub_payload(value: Any, known: Iterable[str] = ()) -> Any:
    """A copy of `value` without personal data: person keys and addresses nulled, and any
    string equal (case-insensitively) to a known identifier (email, phone, full name) nulled."""
    identifiers = {item.strip().casefold() for item in known if item and item.strip()}
    return _scrub(value, identifiers)


def _scrub(value: Any, identifiers: set[str]) -> Any:
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if key in _PERSON_KEYS or key in _ADDRESS_KEYS:
                cleaned[key] = None
            else:
                cleaned[key] = _scrub(item, identifiers)
        return cleaned
    if isinstance(value, list):
        return [_scrub(item, identifiers) for item in value]
    if isinstance(value, str) and value.strip().casefold() in identifiers:
        return None
    return value
