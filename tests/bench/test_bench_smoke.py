"""`rms bench` in a tiny mode: every measurement runs end to end and reports its row.

Performance is measured, not asserted: only the structure of the table and the JSON is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.bench.report import ERROR, FAIL, PASS, PENDING, REPORTED

COLUMNS = ["operation", "metric", "ours", "baseline", "ratio", "target", "result"]
ROW_KEYS = {"operation", "metric", "unit", "ours", "baseline", "ratio", "target", "status"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    results = tmp_path_factory.mktemp("bench-results")
    completed = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--tiny", "--results-dir", str(results)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout, results


def test_prints_a_table_with_the_agreed_columns(tiny_run: tuple[str, Path]) -> None:
    stdout, _ = tiny_run
    header = next(line for line in stdout.splitlines() if line.startswith("| operation"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == COLUMNS


def test_writes_a_timestamped_json_and_latest(tiny_run: tuple[str, Path]) -> None:
    _, results = tiny_run
    files = sorted(path.name for path in results.iterdir())
    assert "latest.json" in files
    stamped = [name for name in files if name.endswith("-tiny.json")]
    assert len(stamped) == 1
    assert (results / stamped[0]).read_text() == (results / "latest.json").read_text()


def test_every_measurement_has_a_row_with_a_known_status(tiny_run: tuple[str, Path]) -> None:
    _, results = tiny_run
    report = json.loads((results / "latest.json").read_text())
    assert report["mode"] == "tiny"
    assert report["parameters"]["fixtures"]["orders"] > 0
    rows = report["rows"]
    for row in rows:
        assert set(row) >= ROW_KEYS
        # no measurement errored (the note says why one did)
        assert row["status"] in {PASS, FAIL, REPORTED, PENDING}, (row["operation"], row.get("note"))
    operations = " ".join(row["operation"] for row in rows)
    for expected in (
        "webhook ingest",
        "returns(first: 50)",
        "lookupOrder",
        "full sync",
        "GraphQL execution",
        "API worker memory",
        "webhook ingest, 2 API processes vs 1",
        "lookupOrder, 2 API processes vs 1",
        "lookupOrder: shared limiter + persisted query",
        "refund returns through the simulator",
        "merchant webhook deliveries to a loopback receiver",
        "approveReturn (",
        "portal page shell",
        "portal first load",
        "PREPAID_LABEL vs",
        "tracking webhook ingest",
    ):
        assert expected in operations
    assert ERROR not in {row["status"] for row in rows}
