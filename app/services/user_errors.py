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
    # Which input is at fault, in the service's own names: attribute names of its input and list
    # indexes (`["items", "0", "line_item_id"]`). Each edge spells it its own way.
    field: list[str] | None
    code: CodeT
    message: str
