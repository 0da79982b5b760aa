"""Who may introspect the schema (`GRAPHQL_INTROSPECTION`): anyone, merchants only, or nobody.

The published contract is `schema/schema.graphql`; introspection is a convenience for tools
(GraphiQL, codegen). In production it is limited to authenticated merchants by default, so an
outsider cannot map every operation; `__typename` is always allowed (clients need it).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from graphql import FieldNode, Node, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

from app.graphql.core.errors import ErrorCode, PublicError

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class IntrospectionPolicy(StrEnum):
    PUBLIC = "public"
    MERCHANTS = "merchants"
    OFF = "off"


class _FindsIntrospection(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: object) -> object:
        if node.name.value in INTROSPECTION_FIELDS:
            self.found = True
            return Visitor.BREAK
        return None


def asks_for_introspection(document: Node) -> bool:
    """Whether any operation or fragment of `document` selects `__schema` or `__type`."""
    finder = _FindsIntrospection()
    visit(document, finder)
    return finder.found


class LimitIntrospection(SchemaExtension):
    """Refuses introspection the policy does not allow for this caller, before execution."""

    def __init__(self, policy: IntrospectionPolicy) -> None:
        self.policy = policy

    def on_execute(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if (
            self.policy is not IntrospectionPolicy.PUBLIC
            and document is not None
            and asks_for_introspection(document)
        ):
            self._check_allowed()
        yield

    def _check_allowed(self) -> None:
        published = "the schema is published as schema/schema.graphql in the service's repository"
        if self.policy is IntrospectionPolicy.OFF:
            raise PublicError(f"Introspection is off; {published}", code=ErrorCode.FORBIDDEN)
        context = self.execution_context.context
        if getattr(context, "principal", None) is None:
            raise PublicError(
                f"Introspection needs a merchant credential; {published}",
                code=ErrorCode.UNAUTHENTICATED,
            )
