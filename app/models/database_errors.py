"""Which database errors mean "not answering right now" (retry later) rather than a refusal."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, PyMongoError

# A raise-from chain longer than this is not a wrapped database error worth unwrapping.
_MAX_CAUSES = 5


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` (or what it was raised from) means the database did not answer in time
    or could not be reached, so the same request may succeed once it is back.

    Covers server selection timeouts, lost connections and failovers (`ConnectionFailure`:
    `AutoReconnect`, `NetworkTimeout`, `WaitQueueTimeoutError`), and every PyMongo error
    flagged `.timeout` (`ExecutionTimeout`, write concern timeouts). Refusals such as a
    duplicate key are not: retrying them cannot help.
    """
    for _ in range(_MAX_CAUSES):
        if error is None:
            return False
        if isinstance(error, ConnectionFailure) or (
            isinstance(error, PyMongoError) and error.timeout
        ):
            return True
        error = error.__cause__
    return False
