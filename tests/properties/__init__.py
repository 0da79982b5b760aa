"""Hypothesis property tests of the pure rules: signatures, domains, normalisation, cursors, returns.

Settings are per test (`@settings(...)` with `FAST`/`DB` below) so the default run stays fast;
`HYPOTHESIS_PROFILE=thorough` raises the example counts (registered here, loaded on import).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("thorough", max_examples=2000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE") == "thorough":
    settings.load_profile("thorough")

_thorough = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"

# Pure functions: many cheap examples.
FAST = settings(max_examples=2000 if _thorough else 200, deadline=None)
# Examples that touch the database: few, and no health check about slow data generation.
DB = settings(
    max_examples=200 if _thorough else 12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
