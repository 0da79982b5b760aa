"""Every `rms` command docs/RUNBOOK.md tells an operator to run exists with those arguments."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tools.cli import build_parser

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "RUNBOOK.md"


def runbook_commands() -> list[str]:
    text = RUNBOOK.read_text()
    commands: list[str] = [m.strip() for m in re.findall(r"`(rms [^`]+)`", text)]
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            continue
        for part in re.split(r"&&|;", line.split("#", 1)[0]):
            part = part.strip().rstrip("\\").strip()
            if part.startswith("rms "):
                commands.append(part)
    return sorted(set(commands))


def _concrete(command: str) -> list[str]:
    command = re.sub(r"\[[^\]]*\]", "", command)  # optional parts
    command = re.sub(r"\$\([^)]*\)", "20250111_120000", command)
    command = re.sub(r"<[^>]*>", "3", command)
    command = command.replace('"$SHOPIFY_API_SECRET"', "secret").replace("\\|V", "")
    placeholders = {
        "PATH": "/tmp/backup",
        "TENANT": "tenant-rms34",
        "FILE": "body.json",
        "S": "secret",
        "V": "3",
        "T": "tenant-rms34",
        "F": ".env",
    }
    return [placeholders.get(word, word) for word in shlex.split(command)[1:]]


def test_the_runbook_names_commands() -> None:
    assert len(runbook_commands()) >= 25


@pytest.mark.parametrize("command", runbook_commands())
def test_runbook_command_parses(command: str) -> None:
    args = build_parser().parse_args(_concrete(command))
    assert callable(getattr(args, "func", None)), command
