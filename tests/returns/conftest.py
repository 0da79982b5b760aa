"""Fixtures of the returns tests that run against the Shopify simulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from tests.returns.sim_shop import NewShop, Shop, open_shop
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def new_shop(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> NewShop:
    """A tenant on a new simulator shop with one paid order (`open_shop`'s options). The test
    module overrides `settings` with `sim_settings`, so the app talks to the simulator."""

    async def make(**options: Any) -> Shop:
        return await open_shop(client, settings, simulator, sim_control, sim_http, **options)

    return make
