"""`POST /{shop}/admin/api/{version}/graphql.json`: auth, faults, cost and the leaky bucket."""

from __future__ import annotations

import asyncio
import inspect
import re
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import Response

from .context import ResolveContext
from .cost import CostCalculator
from .http import json_response
from .models import JSON, ShopState
from .state import SimState, normalize_shop, scope_list
from .webhooks import WebhookDispatcher

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"


def _cost(requested: int | None, actual: int | None, shop: ShopState) -> JSON:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": shop.bucket.status(),
        }
    }


def _errors(errors: list[GraphQLError]) -> list[JSON]:
    return [dict(error.formatted) for error in errors]


async def _hang(request: Request, seconds: float) -> None:
    """Sleep like a stuck upstream, but stop once the client has given up."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


async def _inject_faults(request: Request, shop: ShopState) -> Response | None:
    faults = shop.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    fail = faults.fail_next > 0 or (faults.error_rate and faults.rng.random() < faults.error_rate)
    if fail:
        faults.fail_next = max(0, faults.fail_next - 1)
        shop.count("faults_5xx")
        status = faults.error_status
        message = "Service Unavailable" if status == 503 else "Internal Server Error"
        return json_response({"errors": message}, status_code=status)
    hang = faults.timeout_next > 0 or (
        faults.timeout_rate and faults.rng.random() < faults.timeout_rate
    )
    if hang:
        faults.timeout_next = max(0, faults.timeout_next - 1)
        shop.count("faults_timeout")
        await _hang(request, faults.hang_seconds)
        return json_response({"errors": "Gateway Timeout"}, status_code=504)
    return None


async def graphql_endpoint(request: Request) -> Response:
    state: SimState = request.app.state.sim
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    version = request.path_params["version"]
    shop = state.shops.get(normalize_shop(request.path_params["shop"]) or "")
    if shop is None or not VERSION.match(version):
        return json_response({"errors": "Not Found"}, status_code=404)
    shop.count("graphql_requests")
    headers = {"X-Shopify-API-Version": version}
    token = state.authenticate(shop, request.headers.get("x-shopify-access-token"))
    if token is None:
        shop.count("unauthorized")
        return json_response({"errors": INVALID_TOKEN}, status_code=401, headers=headers)
    fault = await _inject_faults(request, shop)
    if fault is not None:
        return fault
    try:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/graphql"):
            payload: Any = {"query": body.decode()}
        else:
            payload = orjson.loads(body)
        query = payload["query"]
        if not isinstance(query, str):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        return json_response(
            {"errors": {"query": "Required parameter missing or invalid"}}, 400, headers
        )
    variables = payload.get("variables") or {}
    operation_name = payload.get("operationName")
    # decided before running (no await in between), so concurrent requests claim drops in turn
    drop = shop.faults.take_drop(query)
    result = await run_operation(
        Operation(
            request.app.state.schema,
            state,
            dispatcher,
            shop,
            version,
            str(request.base_url).rstrip("/"),
            frozenset(scope_list(token.scope)),
        ),
        query,
        variables,
        operation_name,
    )
    if drop:
        # applied in full (state, webhooks), then the answer is lost on the way back
        shop.count("faults_dropped")
        return Response(b"", status_code=502)
    return json_response(result, headers=headers)


@dataclass
class Operation:
    schema: GraphQLSchema
    state: SimState
    dispatcher: WebhookDispatcher
    shop: ShopState
    version: str
    base_url: str
    scopes: frozenset[str]  # of the token that made the request


async def run_operation(
    where: Operation, query: str, variables: dict[str, Any], operation_name: str | None
) -> JSON:
    """Parse, validate, price, charge the bucket, execute, refund the unused cost."""
    schema, state, shop = where.schema, where.state, where.shop
    try:
        document = parse(query)
    except GraphQLError as error:
        return {"errors": _errors([error]), "extensions": _cost(0, 0, shop)}
    problems = validate(schema, document)
    if problems:
        return {"errors": _errors(problems), "extensions": _cost(0, 0, shop)}
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        missing = GraphQLError(
            "An operation name is required"
            if operation_name is None
            else f"No operation named {operation_name!r}"
        )
        return {"errors": _errors([missing]), "extensions": _cost(0, 0, shop)}
    calculator = CostCalculator(schema, document, operation, variables)
    requested = calculator.requested()
    limit = state.config.single_query_max_cost
    if requested > limit:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit ({limit}).\n\n"
            "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
            "cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk "
            "operations should be used instead."
        )
        shop.count("max_cost_exceeded")
        return {
            "errors": [
                {
                    "message": message,
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": limit,
                    },
                }
            ],
            "extensions": _cost(requested, None, shop),
        }
    if not shop.bucket.try_take(requested):
        shop.count("throttled")
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
                }
            ],
            "extensions": _cost(requested, None, shop),
        }
    context = ResolveContext(
        state, shop, where.version, where.base_url, schema, where.dispatcher, scopes=where.scopes
    )
    outcome = execute(
        schema,
        document,
        variable_values=variables,
        operation_name=operation_name,
        context_value=context,
    )
    if inspect.isawaitable(outcome):
        outcome = await outcome
    assert isinstance(outcome, ExecutionResult)
    actual = calculator.actual(outcome.data)
    shop.bucket.refund(requested - actual)
    for topic, event_payload in context.events:
        where.dispatcher.emit(shop, topic, event_payload)
    response: JSON = {}
    if outcome.errors:
        response["errors"] = _errors(list(outcome.errors))
    response["data"] = outcome.data
    response["extensions"] = _cost(requested, actual, shop)
    return response
