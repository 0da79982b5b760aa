"""The `rms` operator CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.cli import main


def test_rms_without_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: rms" in out
    assert "schema" in out


def test_rms_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "Operate the returns-management service" in result.stdout
