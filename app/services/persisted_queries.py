"""Persisted GraphQL documents shared by every API process (automatic persisted queries).

A document is stored under the sha256 of its text only after the text is checked against it
here as well, so a hash can never name another text, whoever stores it.
"""

from __future__ import annotations

import hashlib

from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models.persisted_query import PersistedQuery


class HashMismatch(ValueError):
    """The text's sha256 is not the hash it was to be stored under."""


async def find_persisted_query(sha256_hash: str) -> str | None:
    doc = await PersistedQuery.get_pymongo_collection().find_one(
        {"_id": sha256_hash.lower()}, {"query": 1}
    )
    query = doc.get("query") if doc else None
    return query if isinstance(query, str) else None


async def save_persisted_query(sha256_hash: str, query: str) -> None:
    """Store `query` under its hash; storing it again is a no-op."""
    sha256_hash = sha256_hash.lower()
    if hashlib.sha256(query.encode()).hexdigest() != sha256_hash:
        raise HashMismatch(sha256_hash)
    try:
        await PersistedQuery.get_pymongo_collection().insert_one(
            {"_id": sha256_hash, "query": query, "created_at": utcnow()}
        )
    except DuplicateKeyError:
        return  # the same hash is the same text (checked above, and by whoever stored it)
