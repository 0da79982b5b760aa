"""`rms bench [--quick] [--only NAME]`: performance of each operation against a raw baseline."""

from __future__ import annotations

import argparse
from typing import Any


def handle(args: argparse.Namespace) -> int:
    from tools.bench.__main__ import execute  # heavy imports only when the command runs

    return execute(args)


def register(subparsers: Any) -> None:
    from tools.bench.__main__ import add_arguments

    parser = subparsers.add_parser(
        "bench",
        help="measure the service against a raw baseline (see BENCHMARKS.md)",
        description="Start an embedded database, the Shopify simulator, the service and a raw "
        "baseline; measure each operation against the baseline; print a table and write "
        "bench/results/<timestamp>.json and latest.json.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handle)
