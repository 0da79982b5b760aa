"""Names and defaults the CLI needs without importing the harness (and the app) at start-up."""

from __future__ import annotations

from pathlib import Path

OPERATIONS = (
    "webhook",
    "returns",
    "lookup",
    "memory",
    "commands",
    "graphql",
    "sync",
    "refunds",
    "notifications",
    "durability",
    "scale",
    "portal",
    "shipping",
)
DEFAULT_RESTORE_RATE = 4_000.0  # points/s of the simulator's bucket during the sync
RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"
