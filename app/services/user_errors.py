"""The one shape of an expected failure a client can act on: which input is at fault, a code
from the domain's enum, and a message for people. GraphQL shows these as a mutation payload's
`userErrors` (`app/graphql/core/errors.user_errors`); services never raise them.

Every domain's code enum also has `TOO_LONG` and `INVALID`: the GraphQL edge refuses oversized or
malformed input with those before a service runs, in the payload of whichever mutation it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

CodeT = TypeVar("CodeT", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class UserFacingError(Generic[CodeT]):
    field: list[str] | None  # path inside the arguments (`["items", "0", "quantity"]`)
    code: CodeT
    message: str
