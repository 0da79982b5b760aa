"""The database deadline of an inbound request, and what the caller sees when it runs out.

A stalled database (a partition, a frozen primary) keeps sockets open and answers nothing, so
only a timeout ends the wait. Routes built with `DatabaseDeadlineRoute` run their dependencies
and handler under `pymongo.timeout(MONGODB_REQUEST_TIMEOUT_MS)`: PyMongo's client-side operation
timeout, one deadline shared by every database call of the request (server selection, pool
wait, socket reads, and `maxTimeMS` on the server). It lives in a contextvar, so tasks the
request starts inherit it (resolvers gathered by graphql-core included); a task that must outlive
the request has to be started in a context without it.

Background workers never pass through these routes and are bounded by their socket timeouts
and leases instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pymongo
from fastapi.routing import APIRoute
from pymongo import _csot
from starlette.requests import Request
from starlette.responses import Response

from app.config import Settings
from app.http.responses import json_response
from app.models.database_errors import is_database_unavailable
from app.observability.request_context import current_request

logger = logging.getLogger("app.database")
T = TypeVar("T")

DATABASE_UNAVAILABLE_MESSAGE = "The database did not answer in time; retry shortly"


async def beyond_request_deadline(operation: Coroutine[Any, Any, T]) -> T:
    """Run `operation` (work that waits on Shopify between its database steps) without what is
    left of the request's database deadline: the Shopify calls would otherwise spend it, and
    the write after them be refused by a healthy database, Shopify already changed. Its database
    calls are then bounded by the client's socket and server-selection timeouts. PyMongo's
    deadline can only be shortened, never extended, so the operation runs in a copy of the
    request's context (its log context kept) with the deadline reset."""
    context = contextvars.copy_context()
    context.run(_csot.reset_all)
    return await asyncio.create_task(operation, context=context)


def restart_request_deadline(seconds: float) -> None:
    """Give the rest of the request a whole database budget again, from now: for a request that
    first did long work outside its deadline (installing a shop by token exchange), which would
    otherwise leave nothing for the request itself. Set in the request's own context; the
    route's `pymongo.timeout` block restores the previous values when it ends."""
    _csot.TIMEOUT.set(seconds)
    _csot.DEADLINE.set(time.monotonic() + seconds)
    _csot.RTT.set(0.0)


def database_unavailable_message(request_id: str) -> str:
    return f"{DATABASE_UNAVAILABLE_MESSAGE} (request id {request_id})"


class DatabaseDeadlineRoute(APIRoute):
    """A route whose dependencies and handler share one database deadline
    (`Settings.mongodb_request_timeout_ms`); a database that does not answer in time gets
    `database_unavailable()` (503) instead of a 500 or a hung request."""

    # Off for a route that also waits on Shopify: its budget would be spent on Shopify, and a
    # healthy database refused afterwards. Such a route bounds its database steps itself.
    whole_request_deadline = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_within_deadline(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            deadline = settings.mongodb_request_timeout_seconds
            try:
                with pymongo.timeout(deadline if self.whole_request_deadline else None):
                    return await handler(request)
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                request_id = current_request().request_id
                logger.warning(
                    "database unavailable, request refused: %s: %s",
                    type(error).__name__,
                    error,
                    extra={"request_id": request_id, "path": request.url.path},
                )
                return self.database_unavailable(request_id)

        return handle_within_deadline

    def database_unavailable(self, request_id: str) -> Response:
        """The 503 for this route; subclasses shape it for their clients."""
        return json_response(
            {
                "error": "database_unavailable",
                "message": database_unavailable_message(request_id),
            },
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )


class DatabaseStepDeadlinesRoute(DatabaseDeadlineRoute):
    """A route that bounds each of its database steps itself (it also waits on Shopify)."""

    whole_request_deadline = False
