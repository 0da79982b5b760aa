"""Per-request facts (id, tenant, operation) shared by the access log, GraphQL and errors."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(slots=True)
class RequestInfo:
    request_id: str = "-"
    tenant_id: str | None = None
    operation: str | None = None


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "request_info", default=None
)


def current_request() -> RequestInfo:
    info = _current.get()
    return info if info is not None else RequestInfo()


def bind_request(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    return _current.set(info)


def unbind_request(token: contextvars.Token[RequestInfo | None]) -> None:
    _current.reset(token)
