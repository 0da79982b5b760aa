"""`python -m tools.bench [--quick] [--only NAME]`: the same as `rms bench`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tools.bench.options import (
    DEFAULT_RESTORE_RATE,
    DEFAULT_SHOPIFY_ROUND_TRIP_MS,
    OPERATIONS,
    RESULTS_DIR,
)

if TYPE_CHECKING:
    from tools.bench.harness import BenchConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="10,000 orders / 2,000 returns; under 2 minutes"
    )
    size.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test
    parser.add_argument(
        "--only",
        action="append",
        choices=OPERATIONS,
        metavar="NAME",
        help=f"run only this measurement (repeatable): {', '.join(OPERATIONS)}",
    )
    parser.add_argument(
        "--restore-rate",
        type=float,
        default=None,
        help="simulator bucket restore rate for the sync, points/s (default %(default)s: "
        f"{DEFAULT_RESTORE_RATE:.0f})",
    )
    parser.add_argument(
        "--shopify-round-trip-ms",
        type=int,
        default=None,
        help="what each Admin API call of the refunds row's timed parts waits in the simulator,"
        f" ms (default {DEFAULT_SHOPIFY_ROUND_TRIP_MS}; 0: loopback, this machine's CPU)",
    )
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="where the JSON results go")


def config_from(args: argparse.Namespace) -> BenchConfig:
    from tools.bench.harness import FULL, QUICK, TINY

    config = TINY if args.tiny else QUICK if args.quick else FULL
    if args.only:
        config = replace(config, only=tuple(args.only))
    if args.restore_rate:
        config = replace(config, restore_rate=args.restore_rate)
    if args.shopify_round_trip_ms is not None:
        config = replace(config, shopify_round_trip_ms=args.shopify_round_trip_ms)
    return replace(config, results_dir=Path(args.results_dir))


def execute(args: argparse.Namespace) -> int:
    from tools.bench.harness import log, run
    from tools.bench.report import render_table, write_json

    config = config_from(args)
    report = run(config)
    print()
    print(render_table(report))
    path, latest = write_json(report, config.results_dir or RESULTS_DIR)
    log(f"finished in {report.seconds:.0f} s; wrote {path} and {latest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
