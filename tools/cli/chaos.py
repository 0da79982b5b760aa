"""`rms chaos [--quick] [--runs N]`: fault scenarios against a throwaway stack, then a table of
figures; with `--runs N`, every run's table and a summary of passes per scenario.

Exit code 0 when, in every run, no write was lost or duplicated, no cross-tenant read happened
and every scenario's own invariants held; else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from tools.chaos import format_runs, format_table, run_chaos

    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so the scenario databases are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    if not args.verbose:
        logging.disable(logging.CRITICAL)  # the scenarios provoke errors on purpose
    mode = "quick" if args.quick else "full"
    print(
        f"rms chaos ({mode}): database crashes and stalls, Shopify faults, dying and racing workers"
    )
    runs = []
    for number in range(1, args.runs + 1):
        rows = asyncio.run(run_chaos(quick=args.quick, root=args.workdir))
        if args.runs > 1:
            print(f"\n== run {number} of {args.runs}")
        print(format_table(rows), flush=True)
        runs.append(rows)
    if args.runs > 1:
        print(f"\n== {args.runs} runs")
        print(format_runs(runs))
    return 0 if all(row.ok for rows in runs for row in rows) else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="inject faults (database, Shopify, workers) and print loss/duplication figures",
    )
    parser.add_argument("--quick", action="store_true", help="small run (about a minute)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the scenario databases here"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat the scenarios N times and summarise"
    )
    parser.add_argument("--verbose", action="store_true", help="keep the app's logs")
    parser.set_defaults(func=run)
