"""Sync tests run the app's sync against the simulator over HTTP with a real database."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """The app's settings pointed at the simulator, with the simulator's app credentials."""
    return make_settings(
        mongo_uri,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_scopes=["read_orders", "read_all_orders", "read_customers"],
    )
