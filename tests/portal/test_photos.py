"""Customers' photos: only images, re-encoded without their metadata, limited, attached to the
return that names them in the same transaction, shown to staff at an expiring signed address,
and gone with the customer's redaction."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from app.clock import utcnow
from app.models import Return, ReturnPhoto
from app.services.returns.photos import UPLOADS_PER_HOUR
from app.services.webhooks.handlers.compliance import redact_customer
from tests.factories import graphql, make_order, make_tenant, merchant_headers
from tests.portal.helpers import proxy_query

CREATE = """
mutation ($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id items { photoCount } } userErrors { field code message } } }
"""
STAFF_VIEW = """
query ($id: ID!) { return(id: $id) { items { photoCount
  photos { id contentType width height size url } } } }
"""


def photo(kind: str = "JPEG", size: tuple[int, int] = (64, 48), *, gps: bool = False) -> bytes:
    image = Image.new("RGBA" if kind == "PNG" else "RGB", size, (200, 30, 30))
    out = io.BytesIO()
    options: dict[str, Any] = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude
        options["exif"] = exif
    image.save(out, format=kind, **options)
    return out.getvalue()


def corrupt_png() -> bytes:
    data = bytearray(photo("PNG"))
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF  # one byte of the image data: its CRC no longer matches
    return bytes(data)


async def upload(
    client: httpx.AsyncClient, shop: str, body: bytes, content_type: str = "image/jpeg"
) -> httpx.Response:
    return await client.post(
        f"/portal/{shop}/photos", content=body, headers={"Content-Type": content_type}
    )


def request_for(
    order: Any, tokens: list[str], email: str = "customer@example.com"
) -> dict[str, Any]:
    return {
        "orderId": order.shopify_id,
        "customerEmail": email,
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [
            {
                "lineItemId": order.line_items[0].id,
                "quantity": 1,
                "reason": "DEFECTIVE",
                "photoTokens": tokens,
            }
        ],
    }


async def test_a_photo_is_stored_without_its_metadata_and_attached_with_the_return(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("photo-shop")
    order = await make_order(tenant.id, 1001)
    sent = await upload(client, tenant.shop_domain, photo(gps=True))
    assert sent.status_code == 201, sent.text
    token = sent.json()["token"]
    stored = await ReturnPhoto.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.expires_at is not None and stored.return_id is None
    with Image.open(io.BytesIO(stored.data)) as kept:
        assert kept.format == "JPEG" and kept.size == (64, 48)
        assert not kept.getexif()  # no camera, no location
    assert token.split(".")[1] not in (stored.claim_hash or "")  # only its hash is kept

    body = await graphql(
        client, CREATE, {"input": request_for(order, [token])}, {"X-Tenant-Id": tenant.id}
    )
    created = body["data"]["createReturn"]
    assert created["userErrors"] == [] and created["return"]["items"][0]["photoCount"] == 1
    taken = await ReturnPhoto.get(stored.id)
    assert taken is not None and taken.expires_at is None and taken.claim_hash is None
    assert taken.client is None  # who uploaded it is not kept with the return
    inserted = await Return.find_one({"tenant_id": tenant.id})
    assert inserted is not None and taken.return_id == inserted.id

    # Staff see it at a signed address; changed or another shop's, it shows nothing.
    headers = await merchant_headers(tenant.id)
    view = await graphql(client, STAFF_VIEW, {"id": created["return"]["id"]}, headers)
    [shown] = view["data"]["return"]["items"][0]["photos"]
    assert shown["contentType"] == "image/jpeg" and (shown["width"], shown["height"]) == (64, 48)
    url = shown["url"].removeprefix("http://testserver")
    image = await client.get(url)
    assert image.status_code == 200 and image.content == stored.data
    assert image.headers["content-type"] == "image/jpeg"
    assert "sandbox" in image.headers["content-security-policy"]
    for bad in (url.replace("signature=", "signature=x"), url.replace("expires=", "expires=1")):
        assert (await client.get(bad)).status_code == 404
    # The customer's side says how many, never where.
    portal = await graphql(
        client, STAFF_VIEW, {"id": created["return"]["id"]}, {"X-Tenant-Id": tenant.id}
    )
    assert "errors" in portal


async def test_only_images_and_not_too_big(client: httpx.AsyncClient, db: object) -> None:
    tenant = await make_tenant("picky-shop")
    shop = tenant.shop_domain
    refused = [
        (b"<svg onload=alert(1)>", "image/svg+xml", 415),
        (b"<html><script>alert(1)</script></html>", "image/png", 415),
        (photo()[:200], "image/jpeg", 415),  # truncated
        (photo(), "text/plain", 415),
        (photo("GIF"), "image/gif", 415),
        (b"\xff\xd8" + b"0" * 1_000_001, "image/jpeg", 413),
        (photo("PNG", (9000, 9000)), "image/png", 413),  # 81 Mpx: decoded, it would be 240 MB
        (photo("PNG", (3000, 3000)), "image/png", 413),  # 9 Mpx: the page never sends that
        (corrupt_png(), "image/png", 415),  # a bad chunk checksum: Pillow's SyntaxError
    ]
    for body, content_type, status in refused:
        response = await upload(client, shop, body, content_type)
        assert response.status_code == status, (content_type, response.text)
    assert await ReturnPhoto.find({"tenant_id": tenant.id}).count() == 0
    transparent = await upload(client, shop, photo("PNG"), "image/png")
    assert transparent.json()["contentType"] == "image/png"  # its transparency is kept
    large = await upload(client, shop, photo("JPEG", (4000, 1000)))
    assert (large.json()["width"], large.json()["height"]) == (2048, 512)


async def test_a_photo_serves_one_return_of_its_own_shop(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("claim-shop")
    other = await make_tenant("claim-other")
    order = await make_order(tenant.id, 1001, quantity=3)
    theirs = (await upload(client, other.shop_domain, photo())).json()["token"]
    mine = (await upload(client, tenant.shop_domain, photo())).json()["token"]
    portal = {"X-Tenant-Id": tenant.id}
    for tokens in ([theirs], [mine.split(".")[0] + ".wrong-secret"], ["garbage"]):
        body = await graphql(client, CREATE, {"input": request_for(order, tokens)}, portal)
        assert body["data"]["createReturn"]["userErrors"][0]["code"] == "PHOTO_NOT_FOUND"
    four = [(await upload(client, tenant.shop_domain, photo())).json()["token"] for _ in range(3)]
    body = await graphql(client, CREATE, {"input": request_for(order, [mine, *four])}, portal)
    assert body["data"]["createReturn"]["userErrors"][0]["field"] == ["items", "0", "photoTokens"]
    assert await Return.find({"tenant_id": tenant.id}).count() == 0

    first = await graphql(client, CREATE, {"input": request_for(order, [mine])}, portal)
    assert first["data"]["createReturn"]["userErrors"] == []
    again = await graphql(client, CREATE, {"input": request_for(order, [mine])}, portal)
    assert again["data"]["createReturn"]["userErrors"][0]["code"] == "PHOTO_NOT_FOUND"
    assert await Return.find({"tenant_id": tenant.id}).count() == 1


async def test_uploads_are_limited_per_client_and_the_proxy_needs_shopifys_signature(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("busy-shop")
    small = photo(size=(8, 8))
    for _ in range(UPLOADS_PER_HOUR):
        assert (await upload(client, tenant.shop_domain, small)).status_code == 201
    limited = await upload(client, tenant.shop_domain, small)
    assert limited.status_code == 429 and limited.json()["error"] == "too_many"
    unsigned = await client.post(
        "/portal/proxy/photos?shop=busy-shop.myshopify.com",
        content=small,
        headers={"Content-Type": "image/jpeg"},
    )
    assert unsigned.status_code == 401
    other = await make_tenant("proxy-photo-shop")
    signed = await client.post(
        "/portal/proxy/photos?" + proxy_query(other.shop_domain, "5"),
        content=small,
        headers={"Content-Type": "image/jpeg"},
    )
    assert signed.status_code == 201


async def test_a_customers_redaction_deletes_their_photos(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("forget-shop")
    order = await make_order(tenant.id, 1001, email="ada@example.com")
    token = (await upload(client, tenant.shop_domain, photo())).json()["token"]
    body = await graphql(
        client,
        CREATE,
        {"input": request_for(order, [token], "ada@example.com")},
        {"X-Tenant-Id": tenant.id},
    )
    assert body["data"]["createReturn"]["userErrors"] == []
    counts = await redact_customer(
        secret="test-secret",
        tenant_id=tenant.id,
        customer_id=None,
        email="ada@example.com",
        now=utcnow(),
    )
    assert counts.photos == 1
    assert await ReturnPhoto.find({"tenant_id": tenant.id}).count() == 0
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.items[0].photo_ids == []
