"""The portal's GraphQL: a signed-in customer's orders and requests through the app proxy, the
status link's query, and the merchant's branding."""

from __future__ import annotations

from typing import Any

import httpx

from app.models import Return
from app.services.portal.status_links import status_token
from tests.conftest import TEST_API_SECRET
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers
from tests.portal.helpers import proxy_query

CUSTOMER_ORDERS = "{ customerOrders { id orderNumber eligible storeCreditBonusPercent } }"
CREATE = """
mutation ($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id reference status statusToken timeline { status at } }
  userErrors { field code message } } }
"""
STATUS = """
query ($token: String!) { returnStatus(token: $token) {
  reference orderNumber status timeline { status } items { title quantity } } }
"""


async def proxied(
    client: httpx.AsyncClient,
    shop: str,
    customer: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/portal/proxy/graphql?" + proxy_query(shop, customer),
        json={"query": query, "variables": variables or {}},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_signed_in_customer_sees_their_orders_newest_first_and_only_theirs(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("cust-shop")
    older = await make_order(tenant.id, 1001)
    assert older.customer and older.customer.id
    newer = await make_order(tenant.id, 1002)
    newer.customer = older.customer
    await newer.save()
    await make_order(tenant.id, 1003)  # another customer's
    other_tenant = await make_tenant("cust-other")
    theirs = await make_order(other_tenant.id, 1001)
    theirs.customer = older.customer  # the same id in another shop
    await theirs.save()

    body = await proxied(client, "cust-shop.myshopify.com", older.customer.id, CUSTOMER_ORDERS)
    numbers = [o["orderNumber"] for o in body["data"]["customerOrders"]]
    assert numbers == ["1002", "1001"]
    guest = await proxied(client, "cust-shop.myshopify.com", "", CUSTOMER_ORDERS)
    assert guest["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Directly (X-Tenant-Id) nobody is signed in, whatever the request claims.
    direct = await graphql(client, CUSTOMER_ORDERS, headers={"X-Tenant-Id": tenant.id})
    assert direct["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_signed_in_customer_requests_a_return_without_typing_the_email(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("req-shop")
    order = await make_order(tenant.id, 1001, email="ada@example.com")
    assert order.customer and order.customer.id
    stranger = await make_order(tenant.id, 1002)
    request = {
        "orderId": order.shopify_id,
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [
            {
                "lineItemId": order.line_items[0].id,
                "quantity": 1,
                "reason": "DEFECTIVE",
                "note": "<script>alert(1)</script>",
            }
        ],
    }
    body = await proxied(
        client, "req-shop.myshopify.com", order.customer.id, CREATE, {"input": request}
    )
    created = body["data"]["createReturn"]
    assert created["userErrors"] == []
    assert created["return"]["reference"].startswith("R1001-")
    assert [e["status"] for e in created["return"]["timeline"]] == ["REQUESTED"]
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None
    assert stored.customer_email == "ada@example.com"
    assert stored.items[0].note == "<script>alert(1)</script>"  # kept as text, shown as text

    # Another customer's order: not found, nothing written.
    foreign = {**request, "orderId": stranger.shopify_id}
    body = await proxied(
        client, "req-shop.myshopify.com", order.customer.id, CREATE, {"input": foreign}
    )
    assert body["data"]["createReturn"]["userErrors"][0]["code"] == "ORDER_NOT_FOUND"
    # A guest must give the email.
    body = await proxied(client, "req-shop.myshopify.com", "", CREATE, {"input": request})
    assert body["data"]["createReturn"]["userErrors"][0]["field"] == ["customerEmail"]
    assert await Return.find({"tenant_id": tenant.id}).count() == 1


async def test_status_link_shows_the_timeline_of_this_shops_return_only(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("stat-shop")
    other = await make_tenant("stat-other")
    record = await make_return(await make_order(tenant.id, 1001))
    token = status_token(TEST_API_SECRET, tenant.id, str(record.id))
    body = await graphql(client, STATUS, {"token": token}, {"X-Tenant-Id": tenant.id})
    found = body["data"]["returnStatus"]
    assert found["orderNumber"] == "1001" and found["reference"] == record.reference
    for tenant_id, bad in (
        (other.id, token),
        (tenant.id, token[:-2] + "zz"),
        (tenant.id, "x" * 200),
    ):
        body = await graphql(client, STATUS, {"token": bad}, {"X-Tenant-Id": tenant_id})
        assert body["data"] == {"returnStatus": None}


UPDATE = """
mutation ($input: UpdatePortalSettingsInput!) { updatePortalSettings(input: $input) {
  portalSettings { logoUrl accentColor heading intro confirmationText }
  userErrors { field code message } } }
"""


async def test_merchant_brands_the_portal_and_bad_values_change_nothing(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("brand-shop")
    headers = await merchant_headers(tenant.id)
    page = await client.get("/portal/brand-shop.myshopify.com")  # the shop is cached now
    assert '"heading":null' in page.text
    good = {
        "logoUrl": "https://cdn.shopify.com/logo.png",
        "accentColor": "#0A5C36",
        "heading": "Returns <b>here</b>",
    }
    body = await graphql(client, UPDATE, {"input": good}, headers)
    saved = body["data"]["updatePortalSettings"]
    assert saved["userErrors"] == []
    assert saved["portalSettings"]["accentColor"] == "#0a5c36"
    assert saved["portalSettings"]["heading"] == "Returns <b>here</b>"
    page = await client.get("/portal/brand-shop.myshopify.com")  # this process: at once
    assert '"heading":"Returns \\u003cb\\u003ehere\\u003c/b\\u003e"' in page.text
    for bad, field in (
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "logoUrl"),
        ({"logoUrl": "javascript:alert(1)"}, "logoUrl"),
        ({"logoUrl": "https://[::1/logo.png"}, "logoUrl"),
        ({"logoUrl": "https://cdn.example.com;script-src-elem https:;x/l.png"}, "logoUrl"),
        ({"logoUrl": "https://cdn.example.com:99999/l.png"}, "logoUrl"),
        ({"accentColor": "red; background: url(x)"}, "accentColor"),
        ({"intro": "x" * 501}, "intro"),
    ):
        body = await graphql(client, UPDATE, {"input": {**bad, "heading": "changed"}}, headers)
        errors = body["data"]["updatePortalSettings"]["userErrors"]
        assert errors and errors[0]["field"] == [field], bad
    read = await graphql(
        client, "{ tenant { portalSettings { heading logoUrl } } }", headers=headers
    )
    assert read["data"]["tenant"]["portalSettings"] == {
        "heading": "Returns <b>here</b>",
        "logoUrl": "https://cdn.shopify.com/logo.png",
    }
    reset = await graphql(client, UPDATE, {"input": {"heading": "", "accentColor": ""}}, headers)
    assert reset["data"]["updatePortalSettings"]["portalSettings"]["heading"] is None
    assert reset["data"]["updatePortalSettings"]["portalSettings"]["accentColor"] == "#1f5fbf"
    anonymous = await graphql(client, UPDATE, {"input": good}, {"X-Tenant-Id": tenant.id})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


LOOKUP = (
    "query ($n: String!, $e: String!) { lookupOrder(orderNumber: $n, customerEmail: $e) { id } }"
)


async def test_through_the_proxy_each_shopper_has_their_own_failure_limit(
    client: httpx.AsyncClient, db: object
) -> None:
    """Shopify is the peer of every proxied request; the shopper is in X-Forwarded-For. Keyed
    on the peer, one shopper's wrong guesses would lock every shopper of the shop out."""
    tenant = await make_tenant("crowd-shop")
    await make_order(tenant.id, 1001, email="ada@example.com")

    async def lookup(shopper: str, email: str) -> dict[str, Any]:
        response = await client.post(
            "/portal/proxy/graphql?" + proxy_query(tenant.shop_domain),
            json={"query": LOOKUP, "variables": {"n": "1001", "e": email}},
            headers={"X-Forwarded-For": shopper},
        )
        body: dict[str, Any] = response.json()
        return body

    for _ in range(10):
        assert (await lookup("198.51.100.7", "eve@example.com"))["data"]["lookupOrder"] is None
    guesser = await lookup("198.51.100.7", "ada@example.com")
    assert guesser["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = await lookup("203.0.113.9", "ada@example.com")
    assert other["data"]["lookupOrder"] is not None
    # Behind our own load balancer, Shopify's address is appended (it is then our peer, as
    # uvicorn's --proxy-headers resolved it): the shopper is the entry left of it.
    peer = "127.0.0.1"
    assert (await lookup(f"198.51.100.7, {peer}", "ada@example.com"))["errors"]
    assert (await lookup(f"192.0.2.55, {peer}", "ada@example.com"))["data"]["lookupOrder"]


async def test_a_retried_request_gets_the_return_its_first_attempt_created(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("retry-shop")
    order = await make_order(tenant.id, 1001, email="ada@example.com", quantity=3)
    other = await make_order(tenant.id, 1002, email="ada@example.com")
    request = {
        "orderId": order.shopify_id,
        "customerEmail": "ada@example.com",
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [{"lineItemId": order.line_items[0].id, "quantity": 1, "reason": "DEFECTIVE"}],
        "requestId": "6f1c2d3e-0000-4000-8000-000000000001",
    }
    portal = {"X-Tenant-Id": tenant.id}
    first = (await graphql(client, CREATE, {"input": request}, portal))["data"]["createReturn"]
    again = (await graphql(client, CREATE, {"input": request}, portal))["data"]["createReturn"]
    assert first["userErrors"] == [] and again["userErrors"] == []
    assert again["return"]["id"] == first["return"]["id"]
    assert await Return.find({"tenant_id": tenant.id}).count() == 1
    # Another request id: another return (the customer meant it).
    second = {**request, "requestId": "6f1c2d3e-0000-4000-8000-000000000002"}
    body = await graphql(client, CREATE, {"input": second}, portal)
    assert body["data"]["createReturn"]["return"]["id"] != first["return"]["id"]
    # The same id for another order is a client's mistake, not a return.
    misused = {
        **request,
        "orderId": other.shopify_id,
        "items": [{"lineItemId": other.line_items[0].id, "quantity": 1, "reason": "DEFECTIVE"}],
    }
    body = await graphql(client, CREATE, {"input": misused}, portal)
    assert body["data"]["createReturn"]["userErrors"][0]["field"] == ["requestId"]
    assert await Return.find({"tenant_id": tenant.id}).count() == 2
