"""Fuzzing runs with the simulator as Shopify, so operations that call it fail at once."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.conftest import make_settings
from tools.shopify_sim import SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """Shopify is the simulator: calls with the suites' made-up tokens are refused at once
    (an unreachable Shopify would make the Admin client retry with backoff)."""
    return make_settings(mongo_uri, shopify_admin_base_url=simulator.admin_base_template)
