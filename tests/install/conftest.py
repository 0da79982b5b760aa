"""Install tests run the real app against the Shopify simulator (real HTTP for the Shopify side)."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """The app's settings pointed at the simulator, with the simulator's app credentials."""
    return make_settings(
        mongo_uri,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
    )
