"""`rms schema export|check`: the GraphQL schema file, exported from the code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from strawberry.printer import print_schema

from app.config import Settings
from app.graphql.schema import build_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def schema_text() -> str:
    return print_schema(build_schema(Settings(_env_file=None))) + "\n"


def export(args: argparse.Namespace) -> int:
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text())
    print(f"wrote {path}")
    return 0


def check(args: argparse.Namespace) -> int:
    path = Path(args.out)
    if not path.exists() or path.read_text() != schema_text():
        print(f"{path} is out of date: run `rms schema export`", file=sys.stderr)
        return 1
    print(f"{path} matches the code")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schema", help="export or check schema/schema.graphql")
    commands = parser.add_subparsers(title="schema commands", metavar="ACTION", required=True)
    for name, func, help_text in (
        ("export", export, "write the schema file from the code"),
        ("check", check, "fail when the schema file differs from the code"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--out", default=str(SCHEMA_PATH))
        sub.set_defaults(func=func)
