"""Writing orders and customers from Shopify: idempotent bulk upserts where newer data wins.

Webhooks and sync both write through here, keyed by `(tenant_id, shopify_id)`. An upsert only
matches a stored document whose `updated_at` is older than the incoming one; when the stored
one is the same age or newer, the upsert tries to insert, hits the unique index, and is counted
as unchanged. So an old payload never overwrites newer data, and replays change nothing.

A redacted record (`redacted_at` set by customers/redact) never takes personal data back: the
upsert does not match it either, and when the incoming payload is newer a second bulk write
updates it with the payload minus its personal fields, so statuses, line items and totals stay
current while the erased data stays erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from app.clock import utcnow
from app.models import Customer, Order
from app.models.bson import to_bson

DUPLICATE_KEY = 11000

# Fields a redaction erases; never written to a redacted record. An order keeps its stored
# `customer` whole (the redaction leaves its `id` and a pseudonymous email).
ORDER_PERSONAL_FIELDS = frozenset({"email", "customer", "shipping_address"})
CUSTOMER_PERSONAL_FIELDS = frozenset({"email", "first_name", "last_name", "phone"})


@dataclass(slots=True)
class UpsertCounts:
    upserted: int = 0  # inserted or replaced with newer data
    unchanged: int = 0  # we already held the same or newer version
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: UpsertCounts) -> None:
        self.upserted += other.upserted
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.errors.extend(other.errors[:10])


def _newer_wins_op(document: dict[str, Any]) -> UpdateOne:
    document = dict(document)
    document.pop("_id", None)
    if document.get("redacted_at") is None:
        # set only by a redaction (a handler storing an already-redacted record), never cleared
        document.pop("redacted_at", None)
    return UpdateOne(
        {
            "tenant_id": document["tenant_id"],
            "shopify_id": document["shopify_id"],
            "updated_at": {"$lt": document["updated_at"]},
            # a redacted record never takes personal data back from a later payload
            "redacted_at": None,
        },
        {"$set": document},
        upsert=True,
    )


def _redacted_update_op(
    document: dict[str, Any], redacted_at: Any, personal: frozenset[str]
) -> UpdateOne:
    """Newer non-personal data for a record a redaction erased (filter: equality fields, then
    the range, as the `tenant_shopify_id_redacted_updated` index serves it)."""
    fields = {
        key: value
        for key, value in document.items()
        if key not in personal and key not in ("_id", "redacted_at")
    }
    return UpdateOne(
        {
            "tenant_id": document["tenant_id"],
            "shopify_id": document["shopify_id"],
            "redacted_at": redacted_at,
            "updated_at": {"$lt": document["updated_at"]},
        },
        {"$set": fields},
    )


async def _bulk_upsert(
    collection: Any, documents: list[dict[str, Any]], personal: frozenset[str]
) -> UpsertCounts:
    counts = UpsertCounts()
    if not documents:
        return counts
    operations = [_newer_wins_op(doc) for doc in documents]
    try:
        result = await collection.bulk_write(operations, ordered=False)
        details = result.bulk_api_result
    except BulkWriteError as exc:
        details = exc.details
        duplicates: list[dict[str, Any]] = []
        for error in details.get("writeErrors", []):
            if error.get("code") == DUPLICATE_KEY:
                duplicates.append(documents[error["index"]])
            else:
                counts.failed += 1
                counts.errors.append(str(error.get("errmsg", "write error"))[:300])
        await _classify_duplicates(collection, duplicates, counts, personal)
    counts.upserted += int(details.get("nUpserted", 0)) + int(details.get("nModified", 0))
    return counts


async def _classify_duplicates(
    collection: Any,
    duplicates: list[dict[str, Any]],
    counts: UpsertCounts,
    personal: frozenset[str],
) -> None:
    """A duplicate is "unchanged" when we hold that record at the same age or newer; a newer
    payload for a redacted record updates its non-personal fields (counted as upserted);
    anything else (say, another order already holding the order number) is a real failure."""
    if not duplicates:
        return
    tenant_id = duplicates[0]["tenant_id"]
    stored: dict[str, Any] = {}
    redacted: dict[str, Any] = {}
    async for doc in collection.find(
        {"tenant_id": tenant_id, "shopify_id": {"$in": [d["shopify_id"] for d in duplicates]}},
        {"shopify_id": 1, "updated_at": 1, "redacted_at": 1},
    ):
        stored[doc["shopify_id"]] = doc["updated_at"]
        if doc.get("redacted_at") is not None:
            redacted[doc["shopify_id"]] = doc["redacted_at"]
    refresh: list[UpdateOne] = []
    for document in duplicates:
        shopify_id = document["shopify_id"]
        held = stored.get(shopify_id)
        if held is None:
            counts.failed += 1
            counts.errors.append(f"conflicting unique key for shopify_id {shopify_id}")
        elif held >= document["updated_at"]:
            counts.unchanged += 1
        elif shopify_id in redacted:
            refresh.append(_redacted_update_op(document, redacted[shopify_id], personal))
        else:
            counts.failed += 1
            counts.errors.append(f"conflicting unique key for shopify_id {shopify_id}")
    if not refresh:
        return
    failed = 0
    try:
        result = await collection.bulk_write(refresh, ordered=False)
        matched = int(result.matched_count)
    except BulkWriteError as exc:
        matched = int(exc.details.get("nMatched", 0))
        for error in exc.details.get("writeErrors", []):
            failed += 1
            counts.errors.append(str(error.get("errmsg", "write error"))[:300])
    counts.upserted += matched
    counts.failed += failed
    # Not matched: redacted again or overtaken by a newer write meanwhile; we hold newer data.
    counts.unchanged += len(refresh) - matched - failed


async def upsert_orders(orders: list[Order]) -> UpsertCounts:
    """Upsert many orders (one bulk write); newer `updated_at` wins."""
    now = utcnow()
    documents = []
    for order in orders:
        order.synced_at = now
        documents.append(to_bson(order))
    return await _bulk_upsert(Order.get_pymongo_collection(), documents, ORDER_PERSONAL_FIELDS)


async def upsert_customers(customers: list[Customer]) -> UpsertCounts:
    """Upsert many customers (one bulk write); newer `updated_at` wins."""
    now = utcnow()
    documents = []
    for customer in customers:
        customer.synced_at = now
        documents.append(to_bson(customer))
    return await _bulk_upsert(
        Customer.get_pymongo_collection(), documents, CUSTOMER_PERSONAL_FIELDS
    )
