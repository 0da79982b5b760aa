"""Service user errors -> GraphQL `UserError`s."""

from __future__ import annotations

from app.graphql.core.errors import UserError
from app.services.returns.errors import ReturnUserError


def to_user_errors(errors: list[ReturnUserError]) -> list[UserError]:
    return [UserError(field=e.field, code=e.code.value, message=e.message) for e in errors]
