"""Bulk query operations: run the query without page limits, publish JSONL with `__parentId`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
from graphql import GraphQLError, OperationType, execute, get_operation_ast, parse, validate

from .context import ResolveContext
from .models import JSON, BulkOperation, gid, iso, utcnow

RUNNING_DELAY_SECONDS = 0.05


def _error(message: str, code: str) -> JSON:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": message, "code": code}],
    }


def start_bulk_query(context: ResolveContext, query: str) -> JSON:
    """Validate and queue a bulk query; Shopify allows one running query operation per shop."""
    shop = context.shop
    try:
        document = parse(query)
    except GraphQLError as error:
        return _error(f"Invalid bulk query: {error.message}", "INVALID")
    problems = validate(context.schema, document)
    operation = get_operation_ast(document)
    if problems or operation is None or operation.operation != OperationType.QUERY:
        message = (
            "; ".join(p.message for p in problems)
            or "Bulk queries must be a single query operation."
        )
        return _error(f"Invalid bulk query: {message}", "INVALID")
    if "edges" not in query and "nodes" not in query:
        return _error(
            "Invalid bulk query: Bulk queries must contain at least one connection.", "INVALID"
        )
    running = next((op for op in shop.bulk_operations if op.status in {"CREATED", "RUNNING"}), None)
    if running is not None:
        return _error(
            f"A bulk query operation for this app and shop is already in progress: {running.id}.",
            "OPERATION_IN_PROGRESS",
        )
    operation_record = BulkOperation(
        id=gid("BulkOperation", shop.next_id("BulkOperation")),
        query=query,
        created_at=iso(utcnow()),
    )
    shop.bulk_operations.append(operation_record)
    bulk_context = replace(context, bulk=True, events=[])
    context.dispatcher._spawn(_run(bulk_context, operation_record, document))
    return {"bulkOperation": operation_record.node(), "userErrors": []}


async def _run(context: ResolveContext, operation: BulkOperation, document: Any) -> None:
    operation.status = "RUNNING"
    await asyncio.sleep(RUNNING_DELAY_SECONDS)
    if operation.status != "RUNNING":
        return
    result = execute(context.schema, document, context_value=context)
    if inspect.isawaitable(result):
        result = await result
    if operation.status != "RUNNING":
        return
    if result.errors or result.data is None:
        operation.status = "FAILED"
        operation.error_code = "INTERNAL_SERVER_ERROR"
    else:
        roots = 0
        lines: list[bytes] = []
        for record, is_root in flatten(result.data):
            roots += is_root
            lines.append(orjson.dumps(record))
        operation.result = b"".join(line + b"\n" for line in lines)
        operation.object_count = len(lines)
        operation.root_object_count = roots
        operation.file_size = len(operation.result)
        number = operation.id.rsplit("/", 1)[-1]
        operation.url = (
            f"{context.base_url}/_sim/bulk/{context.shop.domain}/{number}.jsonl" if lines else None
        )
        operation.status = "COMPLETED"
    operation.completed_at = iso(utcnow())
    context.dispatcher.emit(
        context.shop,
        "bulk_operations/finish",
        {
            "admin_graphql_api_id": operation.id,
            "completed_at": operation.completed_at,
            "created_at": operation.created_at,
            "error_code": operation.error_code and operation.error_code.lower(),
            "status": operation.status.lower(),
            "type": "query",
        },
    )


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list)
    )


def _nodes(value: JSON) -> list[Any]:
    if isinstance(value.get("edges"), list):
        return [edge.get("node") for edge in value["edges"] if isinstance(edge, dict)]
    return list(value["nodes"])


def flatten(data: JSON) -> Iterator[tuple[JSON, bool]]:
    """Shopify's JSONL layout: each node on its own line, children after it with `__parentId`."""
    for value in data.values():
        if _is_connection(value):
            for node in _nodes(value):
                yield from _emit(node, None)


def _emit(node: Any, parent_id: str | None) -> Iterator[tuple[JSON, bool]]:
    if not isinstance(node, dict):
        return
    own: JSON = {}
    children: list[JSON] = []
    for key, value in node.items():
        if _is_connection(value):
            children.append(value)
        else:
            own[key] = value
    if parent_id is not None:
        own["__parentId"] = parent_id
    yield own, parent_id is None
    for child in children:
        for item in _nodes(child):
            yield from _emit(item, node.get("id"))
