"""A span per GraphQL operation, named after it (`graphql query Orders`), with the HTTP
request's span as parent and the MongoDB commands it sends as children. Added to the schema
only while tracing is on: no per-operation cost otherwise, and never a span per field."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.observability.tracing import span


class TraceOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        with span("graphql") as current:
            yield
            if current is not None:
                context = self.execution_context
                kind = context.operation_type.value if context.operation_type else "operation"
                name = context.operation_name or "anonymous"
                current.update_name(f"graphql {kind} {name}")
                current.set_attribute("graphql.operation.type", kind)
                current.set_attribute("graphql.operation.name", name)
                errors = context.result.errors if context.result else None
                if errors:
                    current.set_attribute("graphql.errors", len(errors))
