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
# What each Admin API call of the refunds row's timed parts waits in the simulator, on both
# sides: Shopify's round trip, which a simulator on loopback (a call answered in 3-4 ms) lacks.
# 100 ms is at the fast end of what an Admin call costs from a server near Shopify's (a
# `returnProcess` that pays through a gateway costs more); a shorter one favours the raw loop.
DEFAULT_SHOPIFY_ROUND_TRIP_MS = 100
RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"
