"""Mask unexpected errors: the client gets a request id, the log gets the traceback."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.graphql.core.errors import ErrorCode
from app.observability.metrics import record_error
from app.observability.request_context import current_request

logger = logging.getLogger("app.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_request().request_id
        record_error("graphql_unexpected")
        logger.error(
            "unexpected error in GraphQL resolver",
            exc_info=error.original_error,
            extra={"request_id": request_id, "path": error.path},
        )
        return GraphQLError(
            message=f"Internal server error (request id {request_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
        )
