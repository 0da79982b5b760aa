"""Limits on a GraphQL document: its size before parsing and validation, its depth and aliases.

Strawberry's limiters build a new rule class per instance, and a fresh instance per request makes
every request's validation-cache key new, so the cache never hits. These share one rule class per
limit value, keeping `ValidationCache` effective while each request still gets its own extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from graphql import (
    DocumentNode,
    IntValueNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    ValidationRule,
    ValueNode,
)
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from app.graphql.core.errors import BadUserInput, ErrorCode, PublicError


@cache
def _depth_rule(max_depth: int) -> type[ValidationRule]:
    return depth_validator(max_depth, None, None)


@cache
def _aliases_rule(max_aliases: int) -> type[ValidationRule]:
    return aliases_validator(max_aliases)


class QueryLimits(AddValidationRules):
    def __init__(self, max_depth: int, max_aliases: int) -> None:
        super().__init__([_depth_rule(max_depth), _aliases_rule(max_aliases)])


# No Int (32 bits) or amount comes near it, and Python refuses to convert an integer of over
# 4,300 digits (the ValueError would surface as an internal error while validating).
MAX_INTEGER_LITERAL_DIGITS = 100


class DocumentTooLarge(PublicError):
    code = ErrorCode.DOCUMENT_TOO_LARGE


def utf8_length_over(text: str, limit: int) -> bool:
    """Whether `text` takes more than `limit` bytes in UTF-8, without encoding it when its
    length alone decides (a character takes one to four bytes)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def count_selections(document: DocumentNode, stop_after: int) -> int:
    """Fields, fragment spreads and inline fragments in every definition of `document`.

    Counting stops one past `stop_after`, so an oversized document costs no more than the limit.
    """
    count = 0
    pending = [
        selection_set
        for definition in document.definitions
        if (selection_set := getattr(definition, "selection_set", None)) is not None
    ]
    while pending:
        for selection in pending.pop().selections:
            count += 1
            if count > stop_after:
                return count
            child = getattr(selection, "selection_set", None)
            if child is not None:
                pending.append(child)
    return count


def longest_integer_literal(document: DocumentNode) -> int:
    """Length of the longest integer literal in an argument, directive or variable default."""
    longest = 0
    values: list[ValueNode] = []
    pending: list[Node] = list(document.definitions)
    while pending:
        node = pending.pop()
        for variable in getattr(node, "variable_definitions", None) or ():
            if variable.default_value is not None:
                values.append(variable.default_value)
        arguments = [*(getattr(node, "arguments", None) or ())]
        for directive in getattr(node, "directives", None) or ():
            arguments.extend(directive.arguments or ())
        values.extend(argument.value for argument in arguments)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            pending.extend(selection_set.selections)
    while values:
        value = values.pop()
        if isinstance(value, IntValueNode):
            longest = max(longest, len(value.value))
        elif isinstance(value, ListValueNode):
            values.extend(value.values)
        elif isinstance(value, ObjectValueNode):
            values.extend(field.value for field in value.fields)
    return longest


class DocumentLimits(SchemaExtension):
    """Refuse an oversized document before the work that grows with it.

    Its size in bytes is checked before parsing, and its number of selections before validation
    (whose overlapping-fields rule is quadratic in the fields sharing a name), as are its integer
    literals' lengths. Tokens are counted by the parser itself (`MaxTokensLimiter`). It must come before `ParserCache` and
    `ValidationCache` in the schema's extensions, so a cache never parses or validates a
    document this refuses, and the hash of a persisted query resolves to text checked the same.
    """

    def __init__(self, max_bytes: int, max_selections: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.max_selections = max_selections

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query is not None and utf8_length_over(query, self.max_bytes):
            raise DocumentTooLarge(
                f"The document is over {self.max_bytes} bytes (GRAPHQL_MAX_DOCUMENT_BYTES): "
                "send a smaller query",
                limit="GRAPHQL_MAX_DOCUMENT_BYTES",
                maximum=self.max_bytes,
            )
        yield

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if (
            document is not None
            and count_selections(document, self.max_selections) > self.max_selections
        ):
            raise DocumentTooLarge(
                f"The document has over {self.max_selections} selections "
                "(GRAPHQL_MAX_SELECTIONS): ask for fewer fields",
                limit="GRAPHQL_MAX_SELECTIONS",
                maximum=self.max_selections,
            )
        if document is not None and longest_integer_literal(document) > MAX_INTEGER_LITERAL_DIGITS:
            raise BadUserInput(
                f"An integer literal is over {MAX_INTEGER_LITERAL_DIGITS} digits long",
                maximumDigits=MAX_INTEGER_LITERAL_DIGITS,
            )
        yield
