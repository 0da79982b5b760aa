"""Shopify's calculated query cost.

Requested cost, computed from the document before execution:
- scalars and enums: 0; `__typename`: 0
- an object (or interface/union) field: 1 plus the cost of its selection
- a connection (a type named `...Connection`): 2 + size x (cost of one node), where size is
  `first` or `last` (a missing size counts as 1) and a node costs 1 plus its own selection;
  `edges { node }` and `nodes` share the node cost; `pageInfo` and `cursor` are covered by the 2
- a list of objects that takes `first` (e.g. `fulfillments(first: 5)`): size x object cost;
  one sized by a `names` list (`quantities(names: [...])`): len(names) x object cost; any other
  list of objects counts as one object when requested, and its actual cost is capped there
- each top-level mutation field: 10 (its payload selection is not added)

Actual cost uses the same rules with the number of nodes and objects really returned (null
objects cost nothing), so it is never above the requested cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
)
from graphql.utilities import value_from_ast_untyped

MUTATION_COST = 10
CONNECTION_BASE = 2


class CostCalculator:
    """Requested and actual cost of one operation of one document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.operation = operation
        defaults = {
            definition.variable.name.value: value_from_ast_untyped(definition.default_value)
            for definition in operation.variable_definitions or ()
            if definition.default_value is not None
        }
        self.variables = defaults | dict(variables or {})
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def requested(self) -> int:
        return self._root(None)

    def actual(self, data: Mapping[str, Any] | None) -> int:
        return self._root(data or {}) if data is not None else 0

    def _root(self, data: Mapping[str, Any] | None) -> int:
        if self.operation.operation == OperationType.MUTATION:
            fields = self._collect(self.operation.selection_set)
            if data is None:
                return MUTATION_COST * len(fields)
            return MUTATION_COST * sum(1 for key in fields if data.get(key) is not None)
        root = self.schema.query_type
        assert root is not None
        return self._selection(root, self.operation.selection_set, data)

    def _collect(self, selection_set: SelectionSetNode | None) -> dict[str, list[FieldNode]]:
        """Fields by response key, fragments inlined (type conditions all kept: an upper bound)."""
        grouped: dict[str, list[FieldNode]] = {}
        if selection_set is None:
            return grouped
        pending = list(selection_set.selections)
        while pending:
            selection = pending.pop(0)
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.extend(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    pending.extend(fragment.selection_set.selections)
        return grouped

    def _merged(self, nodes: list[FieldNode]) -> SelectionSetNode | None:
        selections = [
            s for node in nodes if node.selection_set for s in node.selection_set.selections
        ]
        return SelectionSetNode(selections=tuple(selections)) if selections else None

    def _selection(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode | None,
        data: Mapping[str, Any] | None,
    ) -> int:
        total = 0
        for key, nodes in self._collect(selection_set).items():
            name = nodes[0].name.value
            if name.startswith("__"):
                continue
            field_type = self._field_type(parent, name)
            if field_type is None:
                continue
            value = None if data is None else data.get(key)
            if data is not None and value is None:
                continue
            total += self._field(field_type, nodes, value, data is not None)
        return total

    def _field_type(self, parent: GraphQLNamedType, name: str) -> GraphQLOutputType | None:
        candidates = (
            self.schema.get_possible_types(parent) if is_abstract_type(parent) else [parent]
        )
        for candidate in candidates:
            if isinstance(candidate, GraphQLObjectType) and name in candidate.fields:
                found: GraphQLOutputType = candidate.fields[name].type
                return found
        return None

    def _size(self, node: FieldNode) -> int:
        return self._given_size(node) or 1

    def _given_size(self, node: FieldNode) -> int | None:
        """`first`/`last`, or the length of a `names` list; None when neither is given."""
        for argument in node.arguments or ():
            if argument.name.value in {"first", "last"}:
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int):
                    return max(value, 0)
            if argument.name.value == "names":
                names = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(names, list):
                    return len(names)
        return None

    def _field(
        self, field_type: GraphQLOutputType, nodes: list[FieldNode], value: Any, actual: bool
    ) -> int:
        named = get_named_type(field_type)
        if not is_composite_type(named):
            return 0
        selection = self._merged(nodes)
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            return CONNECTION_BASE + self._connection_nodes(
                named, selection, value, actual, self._size(nodes[0])
            )
        unwrapped = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if isinstance(unwrapped, GraphQLList):
            requested = self._size(nodes[0]) * (1 + self._selection(named, selection, None))
            if actual:
                spent = sum(
                    1 + self._selection(named, selection, item)
                    for item in value or []
                    if item is not None
                )
                # an unsized list was priced as one object: never charge more than that
                return spent if self._given_size(nodes[0]) is not None else min(spent, requested)
            return requested
        return 1 + self._selection(named, selection, value if actual else None)

    def _connection_nodes(
        self,
        connection: GraphQLObjectType,
        selection: SelectionSetNode | None,
        value: Any,
        actual: bool,
        size: int,
    ) -> int:
        node_type = (
            get_named_type(connection.fields["nodes"].type)
            if "nodes" in connection.fields
            else None
        )
        if node_type is None:
            return 0
        node_selections: list[Any] = []
        for key, nodes in self._collect(selection).items():
            name = nodes[0].name.value
            if name == "nodes":
                node_selections.append((key, None, self._merged(nodes)))
            elif name == "edges":
                for inner_key, inner in self._collect(self._merged(nodes)).items():
                    if inner[0].name.value == "node":
                        node_selections.append((key, inner_key, self._merged(inner)))
        if not node_selections:
            return 0
        if not actual:
            per_node = max(
                1 + self._selection(node_type, sel, None) for _k, _i, sel in node_selections
            )
            return size * per_node
        best = 0
        for key, inner_key, sel in node_selections:
            items = (value or {}).get(key) or []
            total = 0
            for item in items:
                node = item.get(inner_key) if inner_key is not None and item else item
                if node is not None:
                    total += 1 + self._selection(node_type, sel, node)
            best = max(best, total)
        return best
