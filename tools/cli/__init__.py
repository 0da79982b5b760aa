"""`rms`: the operator CLI. Each command group lives in its own module with `register()`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

# One module per command group; each defines `register(subparsers)` and sets `func` on its
# parsers (a callable taking the parsed `argparse.Namespace` and returning an exit code).
COMMAND_MODULES = (
    "tools.cli.dev",
    "tools.cli.schema",
    "tools.cli.tenants",
    "tools.cli.oauth",
    "tools.cli.tokens",
    "tools.cli.webhooks",
    "tools.cli.notifications",
    "tools.cli.sync",
    "tools.cli.db",
    "tools.cli.backup",
    "tools.cli.config_check",
    "tools.cli.status",
    "tools.cli.worker",
    "tools.cli.sim",
    "tools.cli.bench",
    "tools.cli.chaos",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rms",
        description="Operate the returns-management service (see docs/RUNBOOK.md).",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if not (argv if argv is not None else sys.argv[1:]) else 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
