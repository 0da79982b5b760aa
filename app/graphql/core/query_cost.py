"""Query cost, the way Shopify counts it: refuse expensive queries, report the cost to clients.

Scalars and enums cost 0, every object 1, a connection `2 + first (or last) x (cost of one
node)`, a list of objects `LIST_ESTIMATE x` its element's cost (`nodes(ids:)`: one per id). An
interface (`node`) costs its own fields plus every fragment on a type that implements it (each
fragment's fields counted on that type): an upper bound, whichever type answers. The requested cost is computed from the
document and variables before execution; queries above the limit are refused before any I/O,
and every response carries `extensions.cost {requestedQueryCost, maximumQueryCost}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from app.graphql.core.connection import DEFAULT_PAGE_SIZE
from app.graphql.core.errors import ErrorCode

CONNECTION_BASE = 2
LIST_ESTIMATE = 5
MAX_FRAGMENT_DEPTH = 20

Composite = GraphQLObjectType | GraphQLInterfaceType


class QueryCostCalculator:
    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page_size: int,
        schema: GraphQLSchema | None = None,
    ) -> None:
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self.schema = schema

    def selection_cost(
        self, parent: Composite, selection_set: SelectionSetNode | None, depth: int = 0
    ) -> int:
        if selection_set is None or depth > MAX_FRAGMENT_DEPTH:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(parent, selection, depth)
            elif isinstance(selection, InlineFragmentNode):
                on = self._condition(selection.type_condition, parent)
                total += self.selection_cost(on, selection.selection_set, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    on = self._condition(fragment.type_condition, parent)
                    total += self.selection_cost(on, fragment.selection_set, depth + 1)
        return total

    def _condition(self, condition: NamedTypeNode | None, parent: Composite) -> Composite:
        """The type a fragment's fields are read on: its `on Type`, else the parent's."""
        if condition is None or self.schema is None:
            return parent
        found = self.schema.get_type(condition.name.value)
        return found if isinstance(found, GraphQLObjectType | GraphQLInterfaceType) else parent

    def field_cost(self, parent: Composite, node: FieldNode, depth: int) -> int:
        field = parent.fields.get(node.name.value)
        if field is None:
            return 0  # unknown fields are validation's business
        field_type: GraphQLOutputType = field.type
        named = get_named_type(field_type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        if isinstance(named, GraphQLObjectType) and named.name.endswith("Connection"):
            node_type = get_named_type(named.fields["nodes"].type)
            assert isinstance(node_type, GraphQLObjectType)
            per_node = 0
            for child in self._children(node):
                if child.name.value == "nodes":
                    per_node = max(
                        per_node, 1 + self.selection_cost(node_type, child.selection_set, depth)
                    )
                elif child.name.value == "edges":
                    for edge_child in self._children(child):
                        if edge_child.name.value == "node":
                            per_node = max(
                                per_node,
                                1 + self.selection_cost(node_type, edge_child.selection_set, depth),
                            )
            return CONNECTION_BASE + self._page_size(node) * per_node
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        child_cost = 1 + self.selection_cost(named, node.selection_set, depth)
        return child_cost * (self._list_length(node) if isinstance(inner, GraphQLList) else 1)

    def _list_length(self, node: FieldNode) -> int:
        """How many elements a list field answers: one per id asked for (`nodes(ids:)`), else
        `LIST_ESTIMATE`."""
        for argument in node.arguments or ():
            if argument.name.value != "ids":
                continue
            value = argument.value
            if isinstance(value, ListValueNode):
                return _bounded(len(value.values), self.max_page_size)
            if isinstance(value, VariableNode):
                raw = self.variables.get(value.name.value)
                if isinstance(raw, list):
                    return _bounded(len(raw), self.max_page_size)
                return self.max_page_size
        return LIST_ESTIMATE

    def _children(self, node: FieldNode) -> Iterator[FieldNode]:
        if node.selection_set is None:
            return
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_SIZE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return _bounded(int(value.value), self.max_page_size)
            if isinstance(value, VariableNode):
                raw = self.variables.get(value.name.value)
                if isinstance(raw, int) and not isinstance(raw, bool):
                    return _bounded(raw, self.max_page_size)
                return self.max_page_size
        return DEFAULT_PAGE_SIZE


PAGE_SIZE_ARGUMENTS = ("first", "last")


def _bounded(size: int, maximum: int) -> int:
    return max(0, min(size, maximum))


def requested_cost(
    document: Any, schema: Any, operation_name: str | None, variables: dict[str, Any], max_page: int
) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    calculator = QueryCostCalculator(fragments, variables, max_page, schema)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None or definition.name.value != operation_name):
            continue
        root = schema.get_root_type(definition.operation)
        if root is None:
            return 0
        base = 10 if definition.operation.value == "mutation" else 0
        return base + calculator.selection_cost(root, definition.selection_set)
    return 0


class QueryCostLimit(SchemaExtension):
    """Refuse queries over `max_cost` before execution; report the cost in `extensions`."""

    def __init__(self, max_cost: int, max_page_size: int) -> None:
        super().__init__()
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and not context.pre_execution_errors:
            self.cost = requested_cost(
                context.graphql_document,
                context.schema._schema,
                context.operation_name,
                context.variables or {},
                self.max_page_size,
            )
            if self.cost > self.max_cost:
                context.pre_execution_errors = [
                    GraphQLError(
                        f"Query cost {self.cost} exceeds the maximum of {self.max_cost}: "
                        "ask for fewer items (`first`) or fewer nested fields",
                        extensions={
                            "code": ErrorCode.MAX_COST_EXCEEDED.value,
                            "requestedQueryCost": self.cost,
                            "maximumQueryCost": self.max_cost,
                        },
                    )
                ]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumQueryCost": self.max_cost}}
