"""Every merchant mutation lands in the audit log (who, what, when), declared once here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, VariableNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.graphql.core.node import parse_global_id
from app.services.operations.audit import record


class AuditMerchantMutations(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context
        if context.operation_type is not OperationType.MUTATION:
            return
        principal = getattr(context.context, "principal", None)
        if principal is None or context.graphql_document is None:
            return
        data: dict[str, Any] = getattr(context.result, "data", None) or {}
        variables = context.variables or {}
        for definition in context.graphql_document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if context.operation_name and (
                definition.name is None or definition.name.value != context.operation_name
            ):
                continue
            for selection in definition.selection_set.selections or ():
                if not isinstance(selection, FieldNode):
                    continue
                key = selection.alias.value if selection.alias else selection.name.value
                payload = data.get(key)
                user_errors = payload.get("userErrors") if isinstance(payload, dict) else None
                await record(
                    principal.tenant_id,
                    principal.actor,
                    selection.name.value,
                    _target_id(selection, variables),
                    {
                        "variables": variables,
                        "outcome": "error" if payload is None or user_errors else "ok",
                    },
                )


def _target_id(field: FieldNode, variables: dict[str, Any]) -> str | None:
    """The `id` argument as the object's local id, whether sent global or bare, so that one
    object's entries share one `target_id`."""
    for argument in field.arguments or ():
        if argument.name.value != "id":
            continue
        value = argument.value
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            raw = str(found) if found is not None else ""
        else:
            raw = str(getattr(value, "value", ""))
        parsed = parse_global_id(raw.strip())
        return (parsed[1] if parsed else raw) or None
    return None
