"""Self-hosted GraphiQL assets, pinned in package-lock.json and installed on demand."""

from __future__ import annotations

from pathlib import Path


def ensure_graphiql_assets(force: bool = False) -> Path:
    """Install the pinned GraphiQL assets unless already there; return their directory."""
    # Imported here so `python -m tools.graphiql.build` does not import the module twice.
    from tools.graphiql.build import ensure_graphiql_assets as ensure

    return ensure(force=force)


__all__ = ["ensure_graphiql_assets"]
