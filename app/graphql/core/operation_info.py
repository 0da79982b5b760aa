"""Record the GraphQL operation on the request, for the access log and metrics."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.observability.request_context import current_request


class OperationInfo(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        operation = context.operation_name
        if operation is None and context.graphql_document is not None:
            # anonymous operations are named after their first field: `query:returns`
            definition = context.graphql_document.definitions[0]
            selections = getattr(getattr(definition, "selection_set", None), "selections", [])
            first = (
                getattr(getattr(selections[0], "name", None), "value", None) if selections else None
            )
            kind = getattr(getattr(definition, "operation", None), "value", "query")
            operation = f"{kind}:{first}" if first else kind
        current_request().operation = operation
        yield
