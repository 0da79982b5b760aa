"""What the installed packages must bring for the service to run as designed."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import httpcore


def test_httpcore_finds_its_async_library_without_a_failed_import_per_request(
    monkeypatch: Any,
) -> None:
    """httpcore imports `sniffio` each time it makes a lock (several per request) and falls
    back to asyncio when that fails; Python does not remember a failed import, so without
    `sniffio` every outgoing request (Shopify, carriers, merchants' webhooks) searched sys.path
    again. It is a declared dependency since anyio stopped bringing it."""
    failed: list[str] = []
    real_import = builtins.__import__

    def recording_import(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_import(name, *args, **kwargs)
        except ImportError:
            failed.append(name)
            raise

    async def make_locks() -> None:
        for _ in range(3):
            async with httpcore.AsyncConnectionPool():
                pass

    monkeypatch.setattr(builtins, "__import__", recording_import)
    asyncio.run(make_locks())
    assert failed == []
