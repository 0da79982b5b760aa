"""Run every scenario (each on its own stack) and collect the figures."""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

from tools.chaos.figures import Figures
from tools.chaos.scenarios import scenarios


async def run_chaos(quick: bool = True, root: Path | None = None) -> list[Figures]:
    """All scenarios in sequence; a scenario that crashes is reported as a failed row."""
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="rms-chaos-") as scratch:
        base = root or Path(scratch)
        for index, scenario in enumerate(scenarios(quick)):
            started = time.monotonic()
            try:
                rows.append(await scenario(base / f"s{index}-{time.monotonic_ns()}"))
            except Exception as exc:  # report and go on with the next scenario
                failed = Figures(getattr(scenario, "__name__", f"scenario {index}"))
                failed.failures.append(f"crashed: {type(exc).__name__}: {exc}")
                failed.notes.append(traceback.format_exc(limit=3).replace("\n", " | "))
                failed.seconds = time.monotonic() - started
                rows.append(failed)
    return rows
