"""Normalising values from Shopify payloads, shared by the webhook (REST) and sync (GraphQL) paths
so both store the same documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.models.order import Address


def text(value: Any) -> str | None:
    """Stripped text, or None for missing and blank values."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def split_tags(value: Any) -> list[str]:
    """Shopify REST sends `"vip, gift"`; GraphQL sends a list."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).split(",")
    return [tag for tag in (str(part).strip() for part in parts) if tag]


def address(value: Any, first_name_key: str, last_name_key: str) -> Address | None:
    """An address from either shape; the name falls back to first and last name."""
    if not isinstance(value, Mapping):
        return None
    name = text(value.get("name")) or text(
        " ".join(str(value.get(key) or "") for key in (first_name_key, last_name_key))
    )
    return Address(
        name=name,
        address1=text(value.get("address1")),
        address2=text(value.get("address2")),
        city=text(value.get("city")),
        province=text(value.get("province")),
        zip=text(value.get("zip")),
        country=text(value.get("country")),
        phone=text(value.get("phone")),
    )
