"""The returns chaos scenario, small (`rms chaos` runs it larger): customers competing for the
same units and merchants deciding over HTTP while the database is killed inside a createReturn,
right after its commit, right after a decision and right after a mirrored Shopify request."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tools.chaos.scenarios import returns
from tools.chaos.scenarios.returns import returns_with_database_restart


async def test_returns_bursts_through_database_crashes_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    figures = await returns_with_database_restart(tmp_path, orders=6, customers_per_order=3)
    assert figures.ok, (figures.problems(), figures.notes, figures.details)
    details = {name: int(value) for name, value in figures.details.items()}
    assert details["outages"] == 4
    assert details["refused"] > 0  # the long outage outlasted requests in progress
    assert figures.acknowledged == figures.stored
    assert figures.acknowledged == details["creates_acked"] + details["decisions_acked"]
    assert details["creates_acked"] >= 6  # each order has units for its first customer
    # Every return, acknowledged or not, was taken to the end, and mirrored once.
    returns = details["creates_acked"] + details["unacked_stored"]
    assert details["resolved"] == details["shopify_returns"] == returns
    assert details["refunds"] == returns  # each paid once, through every crash
    assert figures.duplicated == 0
    assert figures.cross_tenant_reads == 0


def test_callers_are_not_given_up_on_while_crashes_are_still_to_come(monkeypatch: Any) -> None:
    """A crash that waited long for its moment once closed the callers' time before the last
    restart: customers of the second wave then gave up without a single try ("still answered,
    but not done in time"), a harness failure that said nothing of the service."""
    clock = [1000.0]
    # The scenario's clock only: the simulators' event loops in this process keep the real one.
    monkeypatch.setattr(
        "tools.chaos.scenarios.returns.time", SimpleNamespace(monotonic=lambda: clock[0])
    )
    deadline = returns.Deadline()
    clock[0] += 10 * returns.RECOVERY_SECONDS  # the crashes take their time
    deadline.answered()  # calls getting through between crashes set no deadline
    assert deadline.open()
    deadline.recovered()
    clock[0] += returns.RECOVERY_SECONDS - 1
    deadline.answered()  # a call got through: more time
    clock[0] += returns.RECOVERY_SECONDS - 1
    assert deadline.open()
    clock[0] += 2
    assert not deadline.open()


def test_callers_answered_without_end_do_not_keep_the_run_going(monkeypatch: Any) -> None:
    """Every answered call gives callers more time after the last crash, up to a bound: a
    merchant turned down on every decision would otherwise never let the run end."""
    clock = [1000.0]
    monkeypatch.setattr(
        "tools.chaos.scenarios.returns.time", SimpleNamespace(monotonic=lambda: clock[0])
    )
    deadline = returns.Deadline()
    deadline.recovered()
    while deadline.open():
        clock[0] += 1
        deadline.answered()
    assert clock[0] - 1000.0 == pytest.approx(returns.MAX_RECOVERY_SECONDS)
