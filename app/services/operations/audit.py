"""The audit log of merchant mutations and operator actions: who, what, when, which tenant.

`record()` is called after a mutation succeeded. The summary is scrubbed here, whatever the
caller passes: secrets and personal data never reach `audit_log`. Every string is cut to
`MAX_STRING` characters before it is scanned, so an entry costs the same whatever its input.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from app.clock import utcnow
from app.models.audit_log import AuditLog
from app.observability.logging import clip, scrub
from app.observability.request_context import current_request
from app.services.pagination import Page, PageRequest

logger = logging.getLogger("app.audit")

REDACTED = "[REDACTED]"  # the same marker the log scrubber writes
# Keys whose values are secrets or personal data (matched on the key, case-insensitively,
# ignoring `_`), e.g. `customerEmail`, `access_token`, `shipping_address`, `note`.
_SENSITIVE_KEY = re.compile(
    r"(token|secret|password|passwd|apikey|key$|hmac|signature|authorization|cookie|"
    r"email|phone|address|firstname|lastname|fullname|^name$|customer$|note|comment|"
    r"message|^ip$|ipaddress|clientip|card|iban|ssn|birth)",
    re.IGNORECASE,
)
# Starts only where a run of non-@, non-space characters starts and never backtracks into it,
# so the scan is linear in the text's length.
_EMAIL = re.compile(r"(?<![^@\s])[^@\s]++@[^@\s]+\.[^@\s]+")
MAX_DEPTH = 4
MAX_ITEMS = 20
MAX_STRING = 200
MAX_KEY = 64


def _is_sensitive(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key.replace("_", "").replace("-", "")))


def scrub_text(value: str) -> str:
    """`value` cut to `MAX_STRING` characters, then without secrets or e-mail addresses."""
    kept, cut = clip(value, MAX_STRING)
    text = _EMAIL.sub(REDACTED, scrub(kept))
    return f"{text}..." if cut else text


def scrub_summary(value: Any, depth: int = 0) -> Any:
    """A copy of `value` safe to store: sensitive keys redacted, sizes bounded."""
    if depth > MAX_DEPTH:
        return "[truncated]"
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                cleaned["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            name = str(key)
            if len(name) > MAX_KEY:  # no key of ours is this long: keep neither it nor its value
                cleaned[scrub_text(name[:MAX_KEY]) + "..."] = REDACTED
                continue
            sensitive = _is_sensitive(name)
            cleaned[scrub_text(name)] = REDACTED if sensitive else scrub_summary(item, depth + 1)
        return cleaned
    if isinstance(value, list | tuple):
        items = [scrub_summary(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        return items
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_summary(str(value), depth)


async def record(
    tenant_id: str,
    actor: str,
    operation: str,
    target_id: str | None,
    summary: dict[str, Any],
) -> AuditLog | None:
    """Append one audit entry (the request id comes from the current request).

    Best effort: the mutation being audited has already happened, so a failed write is logged
    (with the operation, never the summary) and `None` returned instead of raising.
    """
    entry = AuditLog(
        tenant_id=tenant_id,
        actor=actor,
        operation=operation,
        target_id=scrub_text(target_id) if target_id is not None else None,
        summary=scrub_summary(summary),
        request_id=current_request().request_id if current_request().request_id != "-" else None,
        created_at=utcnow(),
    )
    try:
        await entry.insert()
    except Exception:
        logger.exception(
            "audit entry not written", extra={"audit_operation": operation, "tenant": tenant_id}
        )
        return None
    return entry


async def list_audit_log(tenant_id: str, page: PageRequest) -> Page[AuditLog]:
    """One tenant's audit entries, newest first."""
    query = {"tenant_id": tenant_id, **page.filter()}
    items = await AuditLog.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(items, lambda entry: (entry.created_at, entry.id))
