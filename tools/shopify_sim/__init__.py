"""A faithful local Shopify: OAuth, Admin GraphQL with cost and throttling, webhooks, faults."""

from .app import create_simulator_app
from .config import BucketConfig, SimulatorConfig
from .control_client import InstalledShop, SimulatorControl
from .server import SimulatorServer, ThreadedASGIServer, main, run_simulator

__all__ = [
    "BucketConfig",
    "InstalledShop",
    "SimulatorConfig",
    "SimulatorControl",
    "SimulatorServer",
    "ThreadedASGIServer",
    "create_simulator_app",
    "main",
    "run_simulator",
]
