"""Mask unexpected errors: the client gets a request id, the log gets the traceback.

A database that did not answer in time is not masked as an internal error: the client gets
SERVICE_UNAVAILABLE (retry shortly) and the log a warning, since nothing is wrong with the code.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.graphql.core.errors import ErrorCode
from app.http.database_deadline import database_unavailable_message
from app.models.database_errors import is_database_unavailable
from app.observability.metrics import record_error
from app.observability.request_context import current_request

logger = logging.getLogger("app.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def masked(error: GraphQLError) -> GraphQLError:
    """What the client sees instead of an unexpected error; logged and counted here."""
    request_id = current_request().request_id
    original = error.original_error
    if is_database_unavailable(original):
        record_error("graphql_database_unavailable")
        logger.warning(
            "database unavailable during a GraphQL request: %s: %s",
            type(original).__name__,
            original,
            extra={"request_id": request_id, "path": error.path},
        )
        message = database_unavailable_message(request_id)
        code = ErrorCode.SERVICE_UNAVAILABLE
    else:
        record_error("graphql_unexpected")
        logger.error(
            "unexpected error in GraphQL resolver",
            exc_info=original,
            extra={"request_id": request_id, "path": error.path},
        )
        message = f"Internal server error (request id {request_id})"
        code = ErrorCode.INTERNAL_SERVER_ERROR
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code.value, "requestId": request_id},
    )


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error)
