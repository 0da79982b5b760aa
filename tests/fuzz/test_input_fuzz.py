"""Long and pathological strings in every string input of every operation (found by
introspection) and in every REST route's query parameters and headers, and GraphQL bodies that
Python's JSON decoder refuses: never a 500, and never work that grows with the input. An input
over its limit, or not valid text, is refused at the edge with an error naming the limit; no
database command and no scanned log text is longer than the longest input the edge lets through,
whatever was sent."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)
from hypothesis import given
from hypothesis import strategies as st
from pymongo import monitoring
from starlette.routing import Mount, Route

from app.config import Settings
from app.db import Database
from app.graphql.core.input_bounds import LONG_TEXT
from app.main import create_app
from app.observability.logging import MAX_LOGGED_CHARS
from tests.factories import (
    forget_portal_attempts,
    make_order,
    make_return,
    make_tenant,
    merchant_headers,
)
from tests.fuzz.graphql_documents import introspect
from tests.fuzz.helpers import FUZZ, REQUEST_TIMEOUT_SECONDS, bounded
from tests.fuzz.test_rest_fuzz import HEADER_NAMES, PARAM_NAMES, ROUTES, bodies, is_server_error
from tests.security.regex_probe import record_scans

STRING_SCALARS = ("String", "ID")
HUGE = 100_000

# Text that has broken services before: lone surrogates (valid JSON, not valid text), NUL,
# stacked combining marks, bidirectional controls, and lengths around and far over the limits.
_odd_characters = st.sampled_from(
    ["\x00", "\u0301", "\u0336", "\u202e", "\u200f", "\u2066", "\ufeff", "\U0001f389", "@", "."]
)
pathological = st.one_of(
    st.text(_odd_characters, min_size=1, max_size=300),
    st.sampled_from(["\ud800", "x\udfff", "\udc00\ud800", "a@b.c\ud83d", "\x00" * 300]),
    st.builds(
        lambda char, size: char * size,
        st.sampled_from(["y", "e\u0301", "\u202e", "a@", "eyJ", "\x00"]),
        st.sampled_from([256, 1001, 10_000, HUGE]),
    ),
)


class LongestString(monitoring.CommandListener):
    """The longest string in any command the service sends to the database."""

    def __init__(self) -> None:
        self.longest = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        for text in _strings(event.command):
            self.longest = max(self.longest, len(text))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass
class Probed:
    app: FastAPI
    client: httpx.AsyncClient
    database: LongestString
    schema: GraphQLSchema
    headers: dict[str, str]


@pytest.fixture
async def probed(settings: Settings, db: Database) -> AsyncIterator[Probed]:
    listener = LongestString()
    app = create_app(settings, mongo_listeners=[listener], configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tenant = await make_tenant("inputfuzz")
            await make_return(await make_order(tenant.id, 1001, email="fuzz@input.test"))
            # Both a merchant and the tenant's portal: every operation gets past its permission.
            headers = {**await merchant_headers(tenant.id), "X-Tenant-Id": tenant.id}
            yield Probed(app, client, listener, await introspect(client), headers)


# Where strings go ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StringInput:
    """One String or ID an operation accepts: in an argument, an input field, a list item."""

    operation: str  # "query" or "mutation"
    field: str
    path: tuple[str, ...]  # argument, then input fields and list indexes
    coordinate: str  # as in `LONG_TEXT`

    def __str__(self) -> str:
        return f"{self.operation} {self.field}: {'.'.join(self.path)}"


def string_inputs(schema: GraphQLSchema) -> list[StringInput]:
    found: list[StringInput] = []
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in (root.fields if root else {}).items():
            for argument_name, argument in field.args.items():
                coordinate = f"{root.name}.{name}({argument_name}:)"  # type: ignore[union-attr]
                for path, where in _strings_in(argument.type, (argument_name,), coordinate, 0):
                    found.append(StringInput(operation, name, path, where))
    return found


def _strings_in(
    type_: GraphQLInputType, path: tuple[str, ...], coordinate: str, depth: int
) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(type_, GraphQLNonNull):
        yield from _strings_in(type_.of_type, path, coordinate, depth)
    elif isinstance(type_, GraphQLList):
        yield from _strings_in(type_.of_type, (*path, "0"), coordinate, depth)
    elif isinstance(type_, GraphQLScalarType) and type_.name in STRING_SCALARS:
        yield path, coordinate
    elif isinstance(type_, GraphQLInputObjectType) and depth < 4:
        for name, input_field in type_.fields.items():
            yield from _strings_in(
                input_field.type, (*path, name), f"{type_.name}.{name}", depth + 1
            )


def plausible(type_: GraphQLInputType) -> Any:
    """A well-formed value of `type_`, with only its required input fields."""
    if isinstance(type_, GraphQLNonNull):
        return plausible(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [plausible(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return sorted(type_.values)[0]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: plausible(f.type)
            for name, f in type_.fields.items()
            if isinstance(f.type, GraphQLNonNull)
        }
    assert isinstance(type_, GraphQLScalarType)
    samples = {"Int": 1, "Float": 1.0, "Boolean": False, "DateTime": "2026-01-01T00:00:00Z"}
    return samples.get(type_.name, "1")  # String, ID, Decimal


def _placed(value: Any, path: tuple[str, ...], text: str, type_: GraphQLInputType) -> Any:
    """`value` (of `type_`) with `text` at `path` (input field names and list indexes)."""
    if not path:
        return text
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    head, rest = path[0], path[1:]
    if isinstance(named, GraphQLList):
        items = list(value) if isinstance(value, list) and value else [plausible(named.of_type)]
        items[0] = _placed(items[0], rest, text, named.of_type)
        return items
    assert isinstance(named, GraphQLInputObjectType)
    # An optional object reached on the way gets its own required fields too (a return
    # address inside the optional shipping settings needs its street, city, ...).
    updated = dict(value if value is not None else plausible(named))
    updated[head] = _placed(updated.get(head), rest, text, named.fields[head].type)
    return updated


def request_for(schema: GraphQLSchema, target: StringInput, text: str) -> dict[str, Any]:
    """The operation with `text` in the target input, every required argument plausible."""
    root = schema.mutation_type if target.operation == "mutation" else schema.query_type
    assert root is not None
    field: GraphQLField = root.fields[target.field]
    variables: dict[str, Any] = {}
    for name, argument in field.args.items():
        if name == target.path[0]:
            start = plausible(argument.type)
            variables[name] = _placed(start, target.path[1:], text, argument.type)
        elif isinstance(argument.type, GraphQLNonNull):
            variables[name] = plausible(argument.type)
    definitions = ", ".join(f"${name}: {field.args[name].type}" for name in variables)
    arguments = ", ".join(f"{name}: ${name}" for name in variables)
    payload = get_named_type(field.type)
    selection = "__typename"
    if isinstance(payload, GraphQLObjectType) and "userErrors" in payload.fields:
        selection += " userErrors { field code message }"
    head = f"({definitions})" if definitions else ""
    call = f"({arguments})" if arguments else ""
    query = f"{target.operation} Fuzz{head} {{ {target.field}{call} {{ {selection} }} }}"
    return {"query": query, "variables": variables}


def limit_of(target: StringInput, settings: Settings) -> int:
    return LONG_TEXT.get(target.coordinate, settings.graphql_max_string_length)


def is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refusal_at_the_edge(body: dict[str, Any], target: StringInput, limit: int) -> bool:
    """The response refuses the target input, naming it and (when too long) the limit."""
    errors = body.get("errors") or []
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "BAD_USER_INPUT" and extensions.get("argument") == ".".join(
            target.path
        ):
            return extensions.get("maxLength") in (None, limit)
    payload = (body.get("data") or {}).get(target.field) or {}
    expected_path = list(target.path[1:] if target.path[0] == "input" else target.path)
    return any(
        error["field"] == expected_path
        and error["code"] in ("TOO_LONG", "INVALID")
        and (error["code"] != "TOO_LONG" or str(limit) in error["message"])
        for error in payload.get("userErrors") or []
    )


@FUZZ
@given(data=st.data(), text=pathological)
async def test_every_string_input_refuses_pathological_text_at_the_edge(
    probed: Probed,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
    text: str,
) -> None:
    targets = string_inputs(probed.schema)
    assert {t.field for t in targets} >= {"createReturn", "updateReturnPolicy", "cancelSyncJob"}
    target = data.draw(st.sampled_from(targets), label="input")
    await _check_refused_at_the_edge(probed, settings, db, monkeypatch, target, text)


async def _check_refused_at_the_edge(
    probed: Probed,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    target: StringInput,
    text: str,
) -> None:
    """`text` in `target`: no internal error, refused at the edge when over its limit or not
    valid text, and nothing longer than an accepted input reaches the database or a pattern."""
    scanned = record_scans(monkeypatch)
    await forget_portal_attempts(db.db)  # not what this test is about
    probed.database.longest = 0
    response, _ = await bounded(
        probed.client,
        "POST",
        "/graphql",
        # ASCII-escaped JSON carries lone surrogates the way a client can send them.
        content=json.dumps(request_for(probed.schema, target, text)).encode(),
        headers={**probed.headers, "Content-Type": "application/json"},
    )
    where = (str(target), len(text))
    assert response.status_code in (200, 400), (where, response.text[:300])
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, (where, body)
    limit = limit_of(target, settings)
    if len(text) > limit or not is_valid_text(text):
        assert refusal_at_the_edge(body, target, limit), (where, body)
    longest_input = max([settings.graphql_max_string_length, *LONG_TEXT.values()])
    assert probed.database.longest <= longest_input, where
    assert max(scanned, default=0) <= MAX_LOGGED_CHARS, where
    monkeypatch.undo()


# The worst of `pathological`, sent to every input on every run: sampling covers the rest.
WORST_TEXTS = ("y" * HUGE, "a@" * (HUGE // 2), "x\udfff", "\x00" * 300, "e\u0301" * 10_000)


async def test_each_string_input_refuses_the_worst_texts_at_the_edge(
    probed: Probed, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sampled test above draws one input per example; this one sends each of the worst
    texts to each input, so that no input is left out of a run."""
    for target in string_inputs(probed.schema):
        for text in WORST_TEXTS:
            await _check_refused_at_the_edge(probed, settings, db, monkeypatch, target, text)


# REST ------------------------------------------------------------------------------------------
_header_safe = st.one_of(
    st.builds(
        lambda char, size: char * size,
        st.sampled_from(["y", "a@", "eyJ", " ", "\u00e9"]),
        st.sampled_from([256, 10_000, HUGE]),
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300),
)


async def raw_request(
    app: FastAPI, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]
) -> int:
    """One request straight to the app (httpx refuses URLs over 64 KiB; a server may not)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    status: list[int] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(REQUEST_TIMEOUT_SECONDS)
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await asyncio.wait_for(app(scope, receive, send), timeout=REQUEST_TIMEOUT_SECONDS)
    return status[0]


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), pathological, max_size=3),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), _header_safe, max_size=3),
)
async def test_every_rest_route_takes_long_parameters_and_headers_without_a_500_or_a_stall(
    probed: Probed,
    monkeypatch: pytest.MonkeyPatch,
    route: tuple[str, str],
    params: dict[str, str],
    headers: dict[str, str],
) -> None:
    method, path = route
    scanned = record_scans(monkeypatch)
    # Percent-encoded UTF-8; a lone surrogate goes as the bytes a careless client would send.
    query = "&".join(
        f"{name}={quote(value.encode('utf-8', 'surrogatepass'))}" for name, value in params.items()
    )
    raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    status = await raw_request(probed.app, method, path, query.encode(), raw_headers)
    assert not is_server_error(path, status), (method, path, status)
    assert max(scanned, default=0) <= MAX_LOGGED_CHARS, (method, path)


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every HTTP route the app serves, included routers and mounts
    too (a mount as `{path}/{rest}`); HEAD goes with GET."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                found.add(("GET", f"{prefix}{route.path}/{{rest:path}}"))
            elif hasattr(route, "original_router"):  # FastAPI's included router
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Route | APIRoute) or hasattr(route, "methods"):
                for method in route.methods or ():
                    if method != "HEAD":
                        found.add((method, prefix + route.path))

    walk(app.routes, "")
    return found


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("[^?]+".join(re.escape(part) for part in parts) + r"\Z")


def test_the_route_list_covers_every_route_the_app_serves(settings: Settings) -> None:
    """A route added to the app without a place in ROUTES would never be fuzzed."""
    served = served_routes(create_app(settings, configure_logs=False))
    assert ("GET", "/api/health/ready") in served and ("POST", "/graphql") in served
    missing = [
        (method, template)
        for method, template in sorted(served)
        if not any(
            method == sent and _template_pattern(template).match(path) for sent, path in ROUTES
        )
    ]
    assert missing == []


async def test_every_route_takes_the_worst_parameters_and_headers_without_a_500(
    probed: Probed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every route on every run, every parameter and header at once at its longest (the sampled
    test above draws routes and values)."""
    query = "&".join(f"{name}={'y' * HUGE}" for name in PARAM_NAMES) + "&x=%ED%A0%80"
    raw_headers = [(name.encode(), b"a@" * 5_000) for name in HEADER_NAMES]
    for method, path in ROUTES:
        scanned = record_scans(monkeypatch)
        status = await raw_request(probed.app, method, path, query.encode(), raw_headers)
        assert not is_server_error(path, status), (method, path, status)
        assert max(scanned, default=0) <= MAX_LOGGED_CHARS, (method, path)
        monkeypatch.undo()


@FUZZ
@given(
    body=st.one_of(
        bodies,
        st.integers(4_300, 20_000).map(
            lambda n: b'{"query": "{ __typename }", "n": ' + b"9" * n + b"}"
        ),
        st.integers(900, 50_000).map(
            lambda n: b'{"query": "{ a }", "v": ' + b"[" * n + b"]" * n + b"}"
        ),
    ),
    method=st.sampled_from(["POST", "GET"]),
)
async def test_graphql_json_python_cannot_decode_is_a_client_error(
    probed: Probed, body: bytes, method: str
) -> None:
    if method == "POST":
        response, _ = await bounded(
            probed.client,
            "POST",
            "/graphql",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        status = response.status_code
    else:  # the same text as the `variables` parameter, as far as a URL can carry it
        query = b"query=%7B__typename%7D&variables=" + quote(body[:30_000]).encode()
        status = await raw_request(
            probed.app, "GET", "/graphql", query, [(b"accept", b"application/json")]
        )
    assert status < 500, (method, body[:100])
