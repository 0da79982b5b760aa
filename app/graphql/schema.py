"""The one Strawberry schema: queries and mutations merged from each domain package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.config import Settings
from app.graphql.core.audit import AuditMerchantMutations
from app.graphql.core.limits import QueryLimits
from app.graphql.core.masking import MaskUnexpectedErrors
from app.graphql.core.operation_info import OperationInfo
from app.graphql.core.query_cost import QueryCostLimit
from app.graphql.customer.queries import CustomerQueries
from app.graphql.integration.schema import IntegrationMutations, IntegrationQueries
from app.graphql.operations.schema import OperationsMutations, OperationsQueries
from app.graphql.order.queries import OrderQueries
from app.graphql.portal.schema import PortalMutations, PortalQueries
from app.graphql.returns.mutations import ReturnMutations
from app.graphql.returns.queries import ReturnQueries
from app.graphql.sync.schema import SyncMutations, SyncQueries
from app.graphql.tenant.queries import TenantQueries
from app.graphql.webhooks.schema import WebhookMutations, WebhookQueries

QUERY_TYPES: tuple[type, ...] = (
    TenantQueries,
    IntegrationQueries,
    SyncQueries,
    OrderQueries,
    CustomerQueries,
    ReturnQueries,
    WebhookQueries,
    OperationsQueries,
    PortalQueries,
)
MUTATION_TYPES: tuple[type, ...] = (
    SyncMutations,
    IntegrationMutations,
    PortalMutations,
    ReturnMutations,
    WebhookMutations,
    OperationsMutations,
)


def _with_fields(types: tuple[type, ...]) -> tuple[type, ...]:
    """Domains with no operations yet are left out (GraphQL types need a field)."""
    return tuple(t for t in types if t.__strawberry_definition__.fields)  # type: ignore[attr-defined]


class ServiceSchema(strawberry.Schema):
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
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryLimits(max_depth, max_aliases),
        lambda: QueryCostLimit(max_cost, max_page),
        OperationInfo,
        AuditMerchantMutations,
        MaskUnexpectedErrors,
    ]
    kwargs: dict[str, Any] = {"query": query, "extensions": extensions}
    if mutation is not None:
        kwargs["mutation"] = mutation
    return ServiceSchema(**kwargs)
