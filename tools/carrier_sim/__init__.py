"""A faithful local EasyPost: shipments and rates, label purchase (PDF labels, QR codes),
refunds, trackers moving on a simulated clock, signed webhook Events, and faults.

A stand-in for a third party: it imports nothing from `app`.
"""

from .app import create_carrier_sim_app
from .config import CarrierService, CarrierSimConfig, ScriptStep
from .control_client import CarrierSimControl
from .server import CarrierSimulatorServer, main, run_carrier_simulator
from .webhooks import sign_easypost_webhook

__all__ = [
    "CarrierService",
    "CarrierSimConfig",
    "CarrierSimControl",
    "CarrierSimulatorServer",
    "ScriptStep",
    "create_carrier_sim_app",
    "main",
    "run_carrier_simulator",
    "sign_easypost_webhook",
]
