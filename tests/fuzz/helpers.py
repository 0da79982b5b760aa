"""Shared pieces of the fuzzers: database snapshots, a bounded request, hostile text."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.db import Database

REQUEST_TIMEOUT_SECONDS = 5.0

# Function-scoped fixtures (app, client, db) are shared by the examples on purpose: every
# example snapshots the database itself.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "null",
            "0",
            "-1",
            "1e309",
            "NaN",
            "'; DROP TABLE orders; --",
            '{"$ne": null}',
            "$where",
            "../../etc/passwd",
            "%00",
            "\x00",
            "\u202e\u0000\ufeff",
            "a" * 5000,
            "🎉" * 50,
            "<script>alert(1)</script>",
            "tenant-other",
            "gid://shopify/Order/1",
        ]
    ),
)
# Header values must be encodable as latin-1 and free of CR/LF for the HTTP client.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)


async def collection_counts(db: Database) -> dict[str, int]:
    """Documents per collection: what a refused request must leave unchanged."""
    names = sorted(await db.db.list_collection_names())
    return {name: await db.db[name].count_documents({}) for name in names}


async def bounded(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, float]:
    """One request that must finish within REQUEST_TIMEOUT_SECONDS; returns it and its time."""
    started = time.perf_counter()
    response = await asyncio.wait_for(
        client.request(method, url, **kwargs), timeout=REQUEST_TIMEOUT_SECONDS
    )
    return response, time.perf_counter() - started
