"""`ReturnUserError`: the expected failures of return operations (portal and merchant)."""

from __future__ import annotations

import strawberry

from app.graphql.core.errors import FIELD_DESCRIPTION, user_errors
from app.services.returns.errors import ReturnErrorCode
from app.services.returns.errors import ReturnUserError as ReturnProblem

ReturnErrorCodeEnum = strawberry.enum(ReturnErrorCode, name="ReturnErrorCode")


@strawberry.type(name="ReturnUserError", description="An expected failure of a return operation.")
class ReturnUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: ReturnErrorCodeEnum  # type: ignore[valid-type]
    message: str


def to_user_errors(errors: list[ReturnProblem]) -> list[ReturnUserError]:
    return user_errors(errors, ReturnUserError)
