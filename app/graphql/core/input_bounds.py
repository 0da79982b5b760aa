"""Every input is bounded at the edge, before a resolver or a service sees it.

`BoundedInputs` is a field extension that `ServiceSchema` puts on every field with arguments. It
walks the converted arguments, nested input objects and lists included, and refuses:

- a String or ID over `GRAPHQL_MAX_STRING_LENGTH` characters; free text a person writes (the
  coordinates in `LONG_TEXT`) has the limit its service enforces instead;
- a string that is not valid Unicode text: an unpaired UTF-16 surrogate, which JSON lets a
  client send and which neither the database nor a log line can encode;
- a Decimal that is not finite, is 10^15 or more in size, or has more than 18 decimal places:
  every Decimal input is money or a percentage, and beyond that it cannot be stored exactly
  (Decimal128) nor rounded to cents.

A mutation whose payload has `userErrors` answers there, with nothing done (`TOO_LONG` or
`INVALID`, the input path relative to an `input` argument, as its services report theirs); any
other field fails with `BAD_USER_INPUT` naming the argument and the limit. Either way the
resolver does not run, so no regex, query or log line ever sees an unbounded input.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.schema.name_converter import NameConverter
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField

from app.graphql.core.errors import BadUserInput
from app.services.returns import create, transitions

TOO_LONG = "TOO_LONG"
INVALID = "INVALID"
# Coordinates (`Type.field(argument:)`, `InputType.field`) of free text, with their limit.
LONG_TEXT: Mapping[str, int] = {
    "Mutation.approveReturn(note:)": transitions.MAX_NOTE_LENGTH,
    "Mutation.declineReturn(reason:)": transitions.MAX_NOTE_LENGTH,
    "Mutation.markReturnReceived(note:)": transitions.MAX_NOTE_LENGTH,
    "Mutation.cancelReturn(note:)": transitions.MAX_NOTE_LENGTH,
    "CreateReturnItemInput.note": create.MAX_NOTE_LENGTH,
}
MAX_DECIMAL_INTEGER_DIGITS = 15
MAX_DECIMAL_PLACES = 18  # with 15 integer digits, 33 in all: Decimal128 holds 34 exactly
MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The longest string input, and the free-text fields allowed longer (or shorter)."""

    max_string_length: int
    long_text: Mapping[str, int] = field(default_factory=lambda: dict(LONG_TEXT))

    def string_limit(self, coordinate: str) -> int:
        """The longest string accepted at `coordinate` (`Type.field(argument:)`, `Input.field`)."""
        return self.long_text.get(coordinate, self.max_string_length)


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One refused input value: where (GraphQL names, list indexes), why, and the limit."""

    path: tuple[str, ...]
    code: str
    message: str
    limit: int | None = None


def text_problem(text: str, limit: int) -> tuple[str, str] | None:
    """`(code, message)` when `text` is over `limit` characters or is not valid Unicode text."""
    if len(text) > limit:
        return TOO_LONG, f"At most {limit} characters."
    if not text.isascii():  # checked after the length, so the encoding is bounded too
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return INVALID, "Not valid text: it contains an unpaired UTF-16 surrogate."
    return None


def decimal_problem(value: Decimal) -> tuple[str, str] | None:
    """`(code, message)` when `value` is not a number the service can store and compute with."""
    if value.is_finite():
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite
        if exponent >= -MAX_DECIMAL_PLACES and value.adjusted() < MAX_DECIMAL_INTEGER_DIGITS:
            return None
    return (
        INVALID,
        f"Must be a finite number below 10^{MAX_DECIMAL_INTEGER_DIGITS} with at most "
        f"{MAX_DECIMAL_PLACES} decimal places.",
    )


class _InputWalker:
    """Finds the problems in one field's converted arguments (at most `MAX_REPORTED`)."""

    def __init__(self, limits: InputLimits, names: NameConverter) -> None:
        self.limits = limits
        self.names = names
        self.problems: list[InputProblem] = []

    def walk(self, value: Any, path: tuple[str, ...], coordinate: str) -> None:
        if len(self.problems) >= MAX_REPORTED or value is None:
            return
        if isinstance(value, Enum | bool | int):  # before str: some enums are str subclasses
            return
        if isinstance(value, str):
            limit = self.limits.string_limit(coordinate)
            if found := text_problem(value, limit):
                self.problems.append(InputProblem(path, *found, limit=limit))
        elif isinstance(value, Decimal):
            if found := decimal_problem(value):
                self.problems.append(InputProblem(path, *found))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.walk(item, (*path, str(index)), coordinate)
        elif (definition := get_object_definition(value)) is not None and definition.is_input:
            for input_field in definition.fields:
                name = self.names.get_graphql_name(input_field)
                self.walk(
                    getattr(value, input_field.python_name, None),
                    (*path, name),
                    f"{definition.name}.{name}",
                )


class BoundedInputs(FieldExtension):
    """Refuses a field's over-long, malformed or out-of-range inputs (see the module docstring).

    Put innermost, so permissions still answer first, and one instance per field.
    """

    def __init__(self, limits: InputLimits, names: NameConverter, parent_type: str) -> None:
        self.limits = limits
        self.names = names
        self.parent_type = parent_type
        self.field: StrawberryField | None = None

    def apply(self, field: StrawberryField) -> None:
        self.field = field

    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        refusal = self.refusal(kwargs)
        return refusal if refusal is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        refusal = self.refusal(kwargs)
        return refusal if refusal is not None else await next_(source, info, **kwargs)

    def problems(self, arguments: Mapping[str, Any]) -> list[InputProblem]:
        """What is wrong with these converted arguments (keyed by Python name)."""
        assert self.field is not None  # set by `apply` when the schema is built
        field_name = self.names.get_graphql_name(self.field)
        walker = _InputWalker(self.limits, self.names)
        for argument in self.field.arguments:
            name = self.names.from_argument(argument)
            walker.walk(
                arguments.get(argument.python_name),
                (name,),
                f"{self.parent_type}.{field_name}({name}:)",
            )
        return walker.problems

    def refusal(self, arguments: Mapping[str, Any]) -> Any:
        """None when the arguments are fine; else the payload with `userErrors`, or raises."""
        problems = self.problems(arguments)
        if not problems:
            return None
        payload = self._payload_with(problems)
        if payload is not None:
            return payload
        first = problems[0]
        argument = ".".join(first.path)
        extra: dict[str, Any] = {"argument": argument}
        if first.code == TOO_LONG:
            extra["maxLength"] = first.limit
            default = first.limit == self.limits.max_string_length
            setting = " (GRAPHQL_MAX_STRING_LENGTH)" if default else ""
            raise BadUserInput(
                f"`{argument}` is too long: at most {first.limit} characters{setting}", **extra
            )
        raise BadUserInput(f"`{argument}`: {first.message}", **extra)

    def _payload_with(self, problems: list[InputProblem]) -> Any:
        """The field's payload holding `problems` as `userErrors`, when its type has them and
        every other field of it may be null; None otherwise."""
        assert self.field is not None
        definition = get_object_definition(self.field.type)
        if definition is None or definition.is_input:
            return None
        values: dict[str, Any] = {}
        for payload_field in definition.fields:
            if payload_field.base_resolver is not None:
                continue
            if payload_field.python_name == "user_errors":
                error_type = _user_error_type(payload_field.type)
                if error_type is None:
                    return None
                values["user_errors"] = [_user_error(error_type, problem) for problem in problems]
            elif isinstance(payload_field.type, StrawberryOptional):
                values[payload_field.python_name] = None
            else:
                return None
        if "user_errors" not in values:
            return None
        return definition.origin(**values)


def _user_error_type(field_type: Any) -> tuple[type, Any] | None:
    """The payload's `<Domain>UserError` class and its code enum, from `list[<Domain>UserError]`."""
    item = getattr(field_type, "of_type", None)
    definition = get_object_definition(item) if isinstance(item, type) else None
    code = definition.get_field("code") if definition is not None else None
    if not isinstance(item, type) or code is None:
        return None
    if not isinstance(code.type, StrawberryEnumDefinition):
        return None
    return item, code.type.wrapped_cls


def _user_error(error_type: tuple[type, Any], problem: InputProblem) -> Any:
    # Services report paths inside an `input` argument without it (`["items", "0", "note"]`).
    path = (
        problem.path[1:] if problem.path[0] == "input" and len(problem.path) > 1 else problem.path
    )
    cls, codes = error_type
    # Every domain's code enum has TOO_LONG and INVALID (see app/services/user_errors.py).
    return cls(field=list(path), code=codes(problem.code), message=problem.message)


def with_bounded_inputs(
    field: StrawberryField, parent_type: str, limits: InputLimits, names: NameConverter
) -> StrawberryField:
    """A copy of `field` whose inputs are checked by `BoundedInputs` before it resolves."""
    bounded = copy.copy(field)
    # Last is outermost: first in the list runs right before the resolver, after permissions.
    bounded.extensions = [BoundedInputs(limits, names, parent_type), *field.extensions]
    return bounded
