"""Errors a client is meant to see. Everything else is masked with a request id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.utils.str_converters import to_camel_case

from app.services.user_errors import UserFacingError


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
    # Over GRAPHQL_MAX_DOCUMENT_BYTES or GRAPHQL_MAX_SELECTIONS: refused before validation.
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    # The database did not answer in time (stalled, unreachable, failing over): retry shortly.
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class PublicError(GraphQLError):
    """A GraphQL error with a stable `extensions.code`; never masked."""

    code: ErrorCode = ErrorCode.BAD_USER_INPUT

    def __init__(self, message: str, *, code: ErrorCode | None = None, **extra: Any) -> None:
        resolved = code or self.code
        super().__init__(message, extensions={"code": resolved.value, **extra})


class Unauthenticated(PublicError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(PublicError):
    code = ErrorCode.FORBIDDEN


class BadUserInput(PublicError):
    code = ErrorCode.BAD_USER_INPUT


class RateLimited(PublicError):
    code = ErrorCode.RATE_LIMITED


# A mutation's expected failures are its payload's `userErrors`: a list of the domain's
# `<Domain>UserError { field code message }`, whose `code` is the domain's enum (Shopify's and
# Saleor's convention). Each domain declares its type beside its payloads; this is the one
# mapping from the services' `UserFacingError`.
FIELD_DESCRIPTION = "Path to the input field at fault."

UserErrorT = TypeVar("UserErrorT")


def user_errors(
    errors: Iterable[UserFacingError[Any]], as_type: Callable[..., UserErrorT]
) -> list[UserErrorT]:
    """Services' expected failures as the domain's GraphQL user error type. A service names the
    input at fault by its own attribute names (`order_id`); the client sees the argument's GraphQL
    name (`orderId`), which Strawberry derives from the same attribute the same way."""
    return [as_type(field=_graphql_path(e.field), code=e.code, message=e.message) for e in errors]


def _graphql_path(path: list[str] | None) -> list[str] | None:
    return None if path is None else [to_camel_case(part) for part in path]
