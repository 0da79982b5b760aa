"""The attacker suite's world: tenant A (victim) with data and tokens, tenant B (attacker)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.db import Database
from tests.conftest import make_settings
from tests.isolation.world import World, build_world
from tools.shopify_sim import SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """Shopify is the simulator: calls with the suites' made-up tokens are refused at once
    (an unreachable Shopify would make the Admin client retry with backoff)."""
    return make_settings(mongo_uri, shopify_admin_base_url=simulator.admin_base_template)


@pytest.fixture
async def world(settings: Settings, db: Database) -> World:
    return await build_world(settings)
