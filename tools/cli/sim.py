"""`rms sim`: run the Shopify simulator in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from tools.shopify_sim import run_simulator


def run(args: argparse.Namespace) -> int:
    run_simulator(
        args.host,
        args.port,
        args.seed,
        args.api_key,
        args.api_secret,
        args.shop,
        default_orders=args.orders,
        webhook_time_scale=args.webhook_time_scale,
        compliance_url=args.compliance_url,
    )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="run the Shopify simulator (see tools/shopify_sim)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="dev-api-key", help="the app's client id it trusts")
    parser.add_argument("--api-secret", default="dev-secret", help="the app's secret it signs with")
    parser.add_argument(
        "--shop", action="append", default=[], help="pre-create a shop (repeatable)"
    )
    parser.add_argument("--orders", type=int, default=250, help="orders seeded per shop")
    parser.add_argument("--webhook-time-scale", type=float, default=1.0)
    parser.add_argument(
        "--compliance-url",
        default=None,
        help="where compliance webhooks go, e.g. http://127.0.0.1:8000/api/webhooks/{topic}",
    )
    parser.set_defaults(func=run)
