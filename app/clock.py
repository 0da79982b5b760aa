"""The one source of "now": UTC, tz-aware, millisecond precision (what MongoDB stores)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
