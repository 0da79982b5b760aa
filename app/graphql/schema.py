"""The one Strawberry schema: queries and mutations merged from each domain package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from app.config import Settings
from app.graphql.core.audit import AuditMerchantMutations
from app.graphql.core.input_bounds import InputLimits, with_bounded_inputs
from app.graphql.core.introspection import IntrospectionPolicy, LimitIntrospection
from app.graphql.core.limits import DocumentLimits, QueryLimits
from app.graphql.core.masking import MaskUnexpectedErrors
from app.graphql.core.operation_info import OperationInfo
from app.graphql.core.query_cost import QueryCostLimit
from app.graphql.core.tracing import TraceOperation
from app.graphql.customer.queries import CustomerQueries
from app.graphql.integration.schema import IntegrationMutations, IntegrationQueries
from app.graphql.merchant_webhooks.schema import MerchantWebhookMutations, MerchantWebhookQueries
from app.graphql.node.schema import NODE_TYPES, NodeQueries
from app.graphql.notifications.schema import NotificationMutations, NotificationQueries
from app.graphql.operations.schema import OperationsMutations, OperationsQueries
from app.graphql.order.queries import OrderQueries
from app.graphql.portal.exchange import PortalExchangeQueries
from app.graphql.portal.schema import PortalMutations, PortalQueries
from app.graphql.portal.settings import PortalSettingsMutations
from app.graphql.returns.mutations import ReturnMutations
from app.graphql.returns.queries import ReturnQueries
from app.graphql.sync.schema import SyncMutations, SyncQueries
from app.graphql.tenant.queries import TenantQueries
from app.graphql.webhooks.schema import WebhookMutations, WebhookQueries
from app.observability.tracing import tracing_enabled

QUERY_TYPES: tuple[type, ...] = (
    NodeQueries,
    TenantQueries,
    IntegrationQueries,
    SyncQueries,
    OrderQueries,
    CustomerQueries,
    ReturnQueries,
    WebhookQueries,
    MerchantWebhookQueries,
    NotificationQueries,
    OperationsQueries,
    PortalQueries,
    PortalExchangeQueries,
)
MUTATION_TYPES: tuple[type, ...] = (
    SyncMutations,
    IntegrationMutations,
    PortalMutations,
    PortalSettingsMutations,
    ReturnMutations,
    WebhookMutations,
    MerchantWebhookMutations,
    NotificationMutations,
    OperationsMutations,
)


def _with_fields(types: tuple[type, ...]) -> tuple[type, ...]:
    """Domains with no operations yet are left out (GraphQL types need a field)."""
    return tuple(t for t in types if t.__strawberry_definition__.fields)  # type: ignore[attr-defined]


class ServiceSchema(strawberry.Schema):
    def __init__(
        self, *, input_limits: InputLimits, max_document_bytes: int, **kwargs: Any
    ) -> None:
        # Read by `get_fields` while the base class converts the types.
        self.input_limits = input_limits
        # Read by the router: a persisted query over it is not worth remembering.
        self.max_document_bytes = max_document_bytes
        self._bounded_fields: dict[int, StrawberryField] = {}
        super().__init__(**kwargs)

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        """Every field with arguments checks them at the edge first (`input_bounds`)."""
        return [
            self._bounded(type_definition, field) if field.arguments else field
            for field in type_definition.fields
        ]

    def _bounded(
        self, type_definition: StrawberryObjectDefinition, field: StrawberryField
    ) -> StrawberryField:
        # Strawberry may ask for a type's fields more than once: hand out one copy per field.
        bounded = self._bounded_fields.get(id(field))
        if bounded is None:
            bounded = with_bounded_inputs(
                field, type_definition.name, self.input_limits, self.config.name_converter
            )
            self._bounded_fields[id(field)] = bounded
        return bounded

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Unexpected errors are logged by `MaskUnexpectedErrors`; client errors need no log."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    query = merge_types("Query", _with_fields(QUERY_TYPES))
    mutations = _with_fields(MUTATION_TYPES)
    mutation = merge_types("Mutation", mutations) if mutations else None
    max_depth = settings.graphql_max_depth
    max_aliases = settings.graphql_max_aliases
    max_cost = settings.graphql_max_cost
    max_page = settings.graphql_max_page_size
    max_bytes = settings.graphql_max_document_bytes
    max_tokens = settings.graphql_max_tokens
    max_selections = settings.graphql_max_selections
    introspection = IntrospectionPolicy(settings.introspection)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        # Before the caches: nothing oversized is parsed or validated, cached or not.
        lambda: DocumentLimits(max_bytes, max_selections),
        lambda: MaxTokensLimiter(max_tokens),
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryLimits(max_depth, max_aliases),
        lambda: QueryCostLimit(max_cost, max_page),
        OperationInfo,
        lambda: LimitIntrospection(introspection),
        AuditMerchantMutations,
        MaskUnexpectedErrors,
    ]
    if tracing_enabled():
        extensions.insert(0, TraceOperation)
    # Every Node type is listed, so `node` can answer with one no query field returns directly.
    kwargs: dict[str, Any] = {"query": query, "extensions": extensions, "types": NODE_TYPES}
    if mutation is not None:
        kwargs["mutation"] = mutation
    return ServiceSchema(
        input_limits=InputLimits(settings.graphql_max_string_length),
        max_document_bytes=max_bytes,
        **kwargs,
    )
