"""Every REST route under random and mutated requests: never a 500, never a hang, and a refused
request changes nothing in the database."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from app.db import Database
from app.services.webhooks.topics import WEBHOOK_TOPICS
from app.shopify.hmac import sign_oauth_query, sign_webhook
from tests.conftest import TEST_API_SECRET
from tests.fuzz.helpers import FUZZ, bounded, collection_counts, header_text, hostile_text

ROUTES = [
    ("GET", "/api/health"),
    ("GET", "/api/health/live"),
    ("GET", "/api/health/ready"),
    ("GET", "/api/docs"),
    ("GET", "/api/openapi.json"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/graphql/static/graphiql/graphiql.min.js"),
    ("GET", "/graphql/static/%2e%2e/%2e%2e/app/config.py"),
    ("GET", "/api/auth/shopify/install"),
    ("GET", "/api/auth/shopify/callback"),
    ("GET", "/metrics"),
    ("GET", "/graphql"),
    ("POST", "/graphql"),
    *(("POST", f"/api/webhooks/{topic}") for topic in sorted(WEBHOOK_TOPICS)),
    ("POST", "/api/webhooks/easypost"),  # the carrier's tracking events
    ("POST", "/api/webhooks/orders/paid"),
    ("POST", "/api/webhooks/../../api/health"),
    ("POST", "/api/webhooks/%2e%2e/x"),
    ("PUT", "/api/webhooks/orders/create"),
    ("DELETE", "/graphql"),
    ("PATCH", "/api/auth/shopify/install"),
    ("OPTIONS", "/graphql"),
    ("HEAD", "/api/health"),
    # The storefront portal: pages, assets, photos, the app proxy and the staff's photo address.
    ("GET", "/portal/fuzz-shop.myshopify.com"),
    ("GET", "/portal/%2e%2e"),
    ("GET", "/portal/fuzz-shop.myshopify.com/returns/abc.def"),
    ("GET", "/portal/assets/portal.js"),
    ("GET", "/portal/assets/..%2f..%2fconfig.py"),
    ("POST", "/portal/fuzz-shop.myshopify.com/photos"),
    ("GET", "/portal/proxy"),
    ("GET", "/portal/proxy/returns/x"),
    ("POST", "/portal/proxy/photos"),
    ("GET", "/portal/proxy/graphql"),
    ("POST", "/portal/proxy/graphql"),
    ("GET", "/api/return-photos/tenant-x/6565656565656565656565ab"),
]
# Readiness answers 503 by design when the app's background runners are off (as in these tests).
MAY_ANSWER_503 = frozenset({"/api/health/ready"})


def is_server_error(path: str, status: int) -> bool:
    return status >= 500 and not (status == 503 and path in MAY_ANSWER_503)


HEADER_NAMES = [
    "content-type",
    "authorization",
    "x-tenant-id",
    "x-request-id",
    "x-shopify-hmac-sha256",
    "x-hmac-signature",
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-event-id",
    "x-shopify-webhook-id",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
    "origin",
    "accept",
    "x-forwarded-for",
]
PARAM_NAMES = ["shop", "hmac", "code", "state", "timestamp", "host", "query", "variables", "x"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | hostile_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: orjson.dumps(value)),
    st.just(b""),
    st.integers(100, 100_000).map(lambda n: b"[" * n),
    st.integers(100, 5_000).map(lambda n: b'{"a":' * n),
)
# A non-ASCII `hmac` query value has its own test (test_non_ascii_oauth_hmac_is_refused).
param_values = st.one_of(hostile_text.filter(str.isascii), header_text.filter(str.isascii))
# How each route may change the database when it accepts a request.
MAY_WRITE_WHEN = {"/api/auth/shopify/install": {302}, "/api/auth/shopify/callback": {302}}


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=6),
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), param_values, max_size=5),
    body=bodies,
)
async def test_random_requests_get_no_500_and_refusals_change_nothing(
    client: httpx.AsyncClient,
    db: Database,
    route: tuple[str, str],
    headers: dict[str, str],
    params: dict[str, str],
    body: bytes,
) -> None:
    method, path = route
    before = await collection_counts(db)
    content = body if method not in ("GET", "HEAD", "OPTIONS") else None
    raw_headers = {name: value.encode("latin-1") for name, value in headers.items()}
    response, _ = await bounded(
        client, method, path, headers=raw_headers, params=params, content=content
    )
    assert not is_server_error(path, response.status_code), (method, path, response.text[:300])
    accepted = response.status_code in MAY_WRITE_WHEN.get(path, set())
    if path.startswith("/api/webhooks/") and response.status_code == 200:
        accepted = True  # only possible with a valid HMAC, which random input never has
    if not accepted:
        assert await collection_counts(db) == before, (method, path, response.status_code)


@FUZZ
@given(
    topic=st.sampled_from(sorted(WEBHOOK_TOPICS)),
    payload=json_values,
    shop=st.one_of(
        st.just("fuzzshop.myshopify.com"), st.just("FUZZSHOP.myshopify.com"), hostile_text
    ),
    header_topic=st.one_of(st.none(), hostile_text.filter(str.isascii)),
    event_id=st.one_of(st.none(), st.just(""), header_text, st.uuids().map(str)),
    triggered_at=st.one_of(
        st.none(), header_text, st.just("2026-01-01T00:00:00Z"), st.just("9999-99-99")
    ),
)
async def test_signed_webhooks_with_mutated_bodies_and_headers_are_stored_or_refused_cleanly(
    client: httpx.AsyncClient,
    db: Database,
    topic: str,
    payload: object,
    shop: str,
    header_topic: str | None,
    event_id: str | None,
    triggered_at: str | None,
) -> None:
    body = orjson.dumps(payload)
    headers: dict[str, str | bytes] = {"x-shopify-hmac-sha256": sign_webhook(body, TEST_API_SECRET)}
    for name, value in (
        ("x-shopify-shop-domain", shop),
        ("x-shopify-topic", header_topic),
        ("x-shopify-event-id", event_id),
        ("x-shopify-triggered-at", triggered_at),
    ):
        if value is not None and "\n" not in value and "\r" not in value:
            headers[name] = value.encode("utf-8")
    before = await collection_counts(db)
    response, _ = await bounded(
        client, "POST", f"/api/webhooks/{topic}", content=body, headers=headers
    )
    assert response.status_code in (200, 400, 413), response.text[:300]
    after = await collection_counts(db)
    stored = after.get("webhook_events", 0) - before.get("webhook_events", 0)
    if response.status_code == 200:
        assert stored in (0, 1)  # 0: a duplicate event id
        assert response.json()["status"] == ("accepted" if stored else "duplicate")
        assert {k: v for k, v in after.items() if k != "webhook_events"} == {
            k: v for k, v in before.items() if k != "webhook_events"
        }
    else:
        assert after == before


@FUZZ
@given(
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), param_values, min_size=1, max_size=6),
    sign=st.booleans(),
)
async def test_oauth_callbacks_with_mutated_parameters_write_nothing(
    client: httpx.AsyncClient, db: Database, params: dict[str, str], sign: bool
) -> None:
    query = dict(params)
    if sign:  # correctly signed, but the state was never issued: must still write nothing
        query["hmac"] = sign_oauth_query(
            [(k, v) for k, v in query.items() if k != "hmac"], TEST_API_SECRET
        )
    before = await collection_counts(db)
    response, _ = await bounded(client, "GET", "/api/auth/shopify/callback", params=query)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert await collection_counts(db) == before


@example(path="/api/auth/shopify/install", value="é")
@FUZZ
@given(
    path=st.sampled_from(["/api/auth/shopify/install", "/api/auth/shopify/callback"]),
    value=st.text(min_size=1, max_size=10).filter(lambda v: not v.isascii()),
)
async def test_non_ascii_oauth_hmac_is_refused(
    client: httpx.AsyncClient, db: Database, path: str, value: str
) -> None:
    params = {"shop": "a.myshopify.com", "hmac": value, "code": "c", "state": "s"}
    response, _ = await bounded(client, "GET", path, params=params)
    assert response.status_code == 401


async def test_a_webhook_body_over_the_limit_is_413_and_stores_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    headers = {
        "x-shopify-hmac-sha256": sign_webhook(body, TEST_API_SECRET),
        "x-shopify-shop-domain": "big.myshopify.com",
        "x-shopify-event-id": str(uuid.uuid4()),
    }
    before = await collection_counts(db)
    response, _ = await bounded(
        client, "POST", "/api/webhooks/orders/create", content=body, headers=headers
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await collection_counts(db) == before


async def test_a_chunked_body_over_the_limit_without_length_is_413(
    client: httpx.AsyncClient, db: Database
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    before = await collection_counts(db)
    response = await client.post(
        "/api/webhooks/orders/create",
        content=chunks(),
        headers={"x-shopify-hmac-sha256": base64.b64encode(b"0" * 32).decode()},
    )
    assert response.status_code == 413
    assert await collection_counts(db) == before
