"""Webhook tests run against the Shopify simulator: handlers ask Shopify (with the shop's
stored token) before trusting what an unsigned header claims."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.db import Database
from tests.conftest import make_settings
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tests.webhooks.helpers import ConnectedShop, connect_shop
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """The app's settings pointed at the simulator, with the simulator's app credentials."""
    return make_settings(
        mongo_uri,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
    )


@pytest.fixture
async def shop(sim_control: SimulatorControl, settings: Settings, db: Database) -> ConnectedShop:
    """`rms34.myshopify.com` (tenant `tenant-rms34`), connected, with 30 orders in Shopify."""
    return await connect_shop(sim_control, settings)
