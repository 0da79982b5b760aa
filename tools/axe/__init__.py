"""axe-core, pinned in package-lock.json and installed on demand for the browser tests."""

from __future__ import annotations

from pathlib import Path


def ensure_axe(force: bool = False) -> Path:
    """Install the pinned axe-core unless already there; return the path of `axe.min.js`."""
    # Imported here so `python -m tools.axe.build` does not import the module twice.
    from tools.axe.build import ensure_axe as ensure

    return ensure(force=force)


__all__ = ["ensure_axe"]
