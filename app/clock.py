"""The one source of "now": UTC, tz-aware, millisecond precision (what MongoDB stores), on the
database server's clock.

Leases, due times and expiries are written by one process and compared by another against its
own "now" (a sync job's lease, a webhook event's next attempt, a token refresh lease). If each
process read its own wall clock, one whose clock jumped (a VM resumed, NTP stepping it) would take
live leases from other workers, fail running jobs as stale, or keep dead workers' leases for
hours. So "now" is the database server's clock as last read (`set_server_time`, by
`app.db.read_server_clock` at connect and then every minute in every connected process), carried
forward by this process's monotonic clock, which no wall-clock jump moves. Before the first
reading (no database yet) it is the wall clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def wall_clock() -> datetime:
    return datetime.now(UTC)


class _ServerTime:
    """The server's time at one reading of the monotonic clock."""

    def __init__(self) -> None:
        self.reading: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        reading = self.reading
        if reading is None:
            return wall_clock()
        server_time, at_monotonic = reading
        return server_time + timedelta(seconds=time.monotonic() - at_monotonic)


_SERVER_TIME = _ServerTime()


def set_server_time(server_time: datetime, at_monotonic: float) -> None:
    """The database server said `server_time` when this process's monotonic clock read
    `at_monotonic`."""
    _SERVER_TIME.reading = (server_time.astimezone(UTC), at_monotonic)


def server_time_known() -> bool:
    return _SERVER_TIME.reading is not None


def utcnow() -> datetime:
    now = _SERVER_TIME.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
