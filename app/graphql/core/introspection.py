"""Who may introspect the schema (`GRAPHQL_INTROSPECTION`): anyone, merchants only, or nobody.

The published contract is `schema/schema.graphql`; introspection is a convenience for tools
(GraphiQL, codegen). In production it is limited to authenticated merchants by default, so an
outsider cannot map every operation; `__typename` is always allowed (clients need it). A caller
who may not introspect gets no "Did you mean ...?" suggestions in error messages either: they
name fields, arguments and enum values, which would map the schema one guess at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from graphql import FieldNode, GraphQLError, Node, visit
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


SUGGESTION = " Did you mean "


def without_suggestion(error: GraphQLError) -> GraphQLError:
    """`error` without graphql-core's trailing suggestion (a new error: validation errors are
    cached and shared between requests)."""
    message, found, _ = error.message.rpartition(SUGGESTION)
    if not found:
        return error
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class LimitIntrospection(SchemaExtension):
    """Refuses introspection the policy does not allow for this caller, before execution, and
    takes the schema's suggestions out of the errors such a caller is shown."""

    def __init__(self, policy: IntrospectionPolicy) -> None:
        self.policy = policy

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors and not self._may_introspect():
            result.errors = [without_suggestion(error) for error in errors]  # type: ignore[union-attr]

    def _may_introspect(self) -> bool:
        if self.policy is IntrospectionPolicy.PUBLIC:
            return True
        if self.policy is IntrospectionPolicy.OFF:
            return False
        return getattr(self.execution_context.context, "principal", None) is not None

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
