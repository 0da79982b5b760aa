"""Run the carrier simulator with uvicorn: in a background thread (tests) or blocking
(`rms dev`, `python -m tools.carrier_sim`)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

import uvicorn

from tools.shopify_sim.server import ThreadedASGIServer

from .app import create_carrier_sim_app
from .config import CarrierSimConfig
from .state import CarrierState

DEFAULT_PORT = 9200


class CarrierSimulatorServer(ThreadedASGIServer):
    """The EasyPost simulator on 127.0.0.1 and a free port, served from a daemon thread;
    `.base_url`, `.api_base_url` (`{base_url}/v2`: EasyPost's `https://api.easypost.com/v2`).
    """

    def __init__(
        self, config: CarrierSimConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or CarrierSimConfig()
        super().__init__(create_carrier_sim_app(self.config), host, port)

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/v2"

    @property
    def state(self) -> CarrierState:
        """The live state, for assertions from the test's thread (take `state.lock`)."""
        state: CarrierState = self.app.state.carrier
        return state


def run_carrier_simulator(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, config: CarrierSimConfig | None = None
) -> None:
    """Serve the simulator in the foreground until interrupted."""
    uvicorn.run(
        create_carrier_sim_app(config or CarrierSimConfig()),
        host=host,
        port=port,
        log_level="info",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="carrier-sim", description="Local EasyPost simulator (shipments, labels, trackers)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--api-key", action="append", default=[], help="an account's API key (repeatable)"
    )
    parser.add_argument("--webhook-url", default=None, help="where Events are POSTed")
    parser.add_argument("--webhook-secret", default=None, help="signs Events (X-Hmac-Signature)")
    parser.add_argument("--webhook-time-scale", type=float, default=1.0)
    parser.add_argument("--public-base-url", default=None, help="base of label and QR URLs")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "webhook_url": args.webhook_url,
        "webhook_secret": args.webhook_secret,
        "webhook_time_scale": args.webhook_time_scale,
        "public_base_url": args.public_base_url,
    }
    if args.api_key:
        options["api_keys"] = tuple(args.api_key)
    run_carrier_simulator(args.host, args.port, replace(CarrierSimConfig(), **options))
