"""Apollo-style automatic persisted queries (APQ).

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`. With the
query text as well, the hash is checked and the text remembered; with the hash alone, the text
is looked up, and an unknown hash answers `PersistedQueryNotFound`
(`extensions.code = PERSISTED_QUERY_NOT_FOUND`), upon which the client resends with the text.
Error messages, codes and HTTP statuses follow Apollo Server, so Apollo Client, urql and
graphql-request work unchanged.

Two levels: a bounded LRU in each process, in front of a store shared by every process
(`SharedQueries`; the service's MongoDB collection). A hash unknown here is looked up there, so
a query registered through one API process runs by hash on any other. A registration reaches
the shared store only once its document passed validation (the router saves it after
executing), so callers cannot fill the database with text that is not an operation.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from graphql import GraphQLError

PERSISTED_QUERY_NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
BAD_REQUEST: Final = "BAD_REQUEST"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class PersistedQueryError:
    """Why a persisted-query request cannot run; `status` is the HTTP status Apollo uses."""

    message: str
    code: str
    status: int

    def as_graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


NOT_FOUND: Final = PersistedQueryError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND, 200)
HASH_MISMATCH: Final = PersistedQueryError("provided sha does not match query", BAD_REQUEST, 400)
UNSUPPORTED_VERSION: Final = PersistedQueryError(
    "Unsupported persisted query version", BAD_REQUEST, 400
)
MALFORMED: Final = PersistedQueryError(
    "extensions.persistedQuery needs a hex sha256Hash", BAD_REQUEST, 400
)


class SharedQueries(Protocol):
    """Persisted documents shared by every API process."""

    async def find(self, sha256_hash: str) -> str | None: ...

    async def save(self, sha256_hash: str, query: str) -> None: ...


def registered_hash(payload: Mapping[str, Any]) -> str | None:
    """The hash a request registers its `query` under (text and hash both sent), lower-cased."""
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    if not isinstance(persisted, Mapping) or not isinstance(payload.get("query"), str):
        return None
    sha256_hash = persisted.get("sha256Hash")
    return sha256_hash.lower() if isinstance(sha256_hash, str) else None


class PersistedQueryStore:
    """Bounded LRU of query text by sha256, in this process only (see the module docstring).

    Bounded by entry count and by total characters, so clients registering large documents
    cannot grow memory without limit; a document longer than `max_query_chars` still runs,
    it is just not remembered.
    """

    def __init__(
        self,
        *,
        max_entries: int = 5_000,
        max_total_chars: int = 20_000_000,
        max_query_chars: int = 100_000,
        shared: SharedQueries | None = None,
    ) -> None:
        if max_entries < 1 or max_total_chars < 1 or max_query_chars < 1:
            raise ValueError("persisted query store limits must be positive")
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self.max_query_chars = max_query_chars
        self.shared = shared
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._total_chars = 0
        # Resolution is synchronous and short; the lock only matters for threaded servers.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, sha256_hash: object) -> bool:
        return isinstance(sha256_hash, str) and sha256_hash.lower() in self._queries

    def resolve(self, payload: Mapping[str, Any]) -> str | PersistedQueryError | None:
        """Return the query text to execute for one GraphQL request payload.

        `payload` is the request object (`query`, `extensions`, ...). Without a
        `persistedQuery` extension the payload's own `query` is returned untouched (possibly
        None, which the GraphQL view reports as a missing query).
        """
        query = payload.get("query")
        extensions = payload.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
        if persisted is None:
            return query if isinstance(query, str) else None
        if not isinstance(persisted, Mapping):
            return MALFORMED
        if persisted.get("version") != 1:
            return UNSUPPORTED_VERSION
        sha256_hash = persisted.get("sha256Hash")
        if not isinstance(sha256_hash, str) or not _SHA256_HEX.fullmatch(sha256_hash):
            return MALFORMED
        sha256_hash = sha256_hash.lower()
        if isinstance(query, str):
            if hashlib.sha256(query.encode()).hexdigest() != sha256_hash:
                return HASH_MISMATCH
            self.put(sha256_hash, query)
            return query
        stored = self.get(sha256_hash)
        return NOT_FOUND if stored is None else stored

    async def resolve_shared(self, payload: Mapping[str, Any]) -> str | PersistedQueryError | None:
        """`resolve`, then the shared store for a hash this process does not know."""
        outcome = self.resolve(payload)
        if outcome is not NOT_FOUND or self.shared is None:
            return outcome
        extensions = payload["extensions"]
        sha256_hash = str(extensions["persistedQuery"]["sha256Hash"]).lower()
        query = await self.shared.find(sha256_hash)
        if query is None:
            return NOT_FOUND
        self.put(sha256_hash, query)
        return query

    def get(self, sha256_hash: str) -> str | None:
        with self._lock:
            query = self._queries.get(sha256_hash)
            if query is not None:
                self._queries.move_to_end(sha256_hash)
            return query

    def put(self, sha256_hash: str, query: str) -> None:
        """Remember `query` under its (already verified) hash, evicting least recently used."""
        if len(query) > self.max_query_chars:
            return
        with self._lock:
            previous = self._queries.pop(sha256_hash, None)
            if previous is not None:
                self._total_chars -= len(previous)
            self._queries[sha256_hash] = query
            self._total_chars += len(query)
            while len(self._queries) > self.max_entries or self._total_chars > self.max_total_chars:
                _, evicted = self._queries.popitem(last=False)
                self._total_chars -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._queries.clear()
            self._total_chars = 0


__all__ = [
    "BAD_REQUEST",
    "PERSISTED_QUERY_NOT_FOUND",
    "PersistedQueryError",
    "PersistedQueryStore",
    "SharedQueries",
    "registered_hash",
]
