"""A worker process whose wall clock is off by `--offset` seconds, as after a VM resumed or NTP
stepped the clock: it runs sync jobs, webhook events and the stale-lock sweeper against the
scenario's database until SIGTERM. It prints `ready` once connected and, when stopped, the
events it completed (one JSON line).

    python -m tools.chaos.skewed_worker --offset 7200 --name ahead   (settings as JSON on stdin)

The offset is applied where the service reads the wall clock (`app.clock.wall_clock`), before
any service module is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import timedelta

import orjson


def _skew_wall_clock(offset: float) -> None:
    import app.clock

    real = app.clock.wall_clock
    app.clock.wall_clock = lambda: real() + timedelta(seconds=offset)


async def _run(settings_json: bytes, name: str, lease_seconds: float) -> list[str]:
    import httpx

    from app.config import Settings
    from app.db import connect
    from app.jobs.sync import StaleSyncLockSweeper, SyncWorker
    from app.services.sync.engine import SyncOptions
    from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor

    settings = Settings(_env_file=None, **orjson.loads(settings_json))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    database = await connect(settings, create_indexes=False)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    completed: list[str] = []
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        sync = SyncWorker(
            settings,
            http,
            f"skewed-{name}",
            options=SyncOptions(lease_seconds=lease_seconds, retry_backoff=0.05),
        )
        processor = WebhookProcessor(
            settings,
            f"skewed-{name}",
            policy=ProcessingPolicy(lease_seconds=lease_seconds, retry_base_seconds=0.05),
        )
        complete = processor.complete

        async def counted(event: dict[str, object], result: str) -> bool:
            done = await complete(event, result)
            if done:
                completed.append(str(event["event_id"]))
            return done

        processor.complete = counted  # type: ignore[method-assign]
        sweeper = StaleSyncLockSweeper()

        async def loop_until_stopped(step: object) -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    if not await step():  # type: ignore[operator]
                        await asyncio.sleep(0.05)

        await asyncio.gather(
            loop_until_stopped(sync.run_once),
            loop_until_stopped(processor.process_one),
            loop_until_stopped(sweeper.run_once),
        )
    await database.close()
    return completed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offset", type=float, required=True, help="seconds; negative: behind")
    parser.add_argument("--name", required=True)
    parser.add_argument("--lease-seconds", type=float, default=2.0)
    args = parser.parse_args()
    _skew_wall_clock(args.offset)
    settings_json = sys.stdin.buffer.read()
    completed = asyncio.run(_run(settings_json, args.name, args.lease_seconds))
    sys.stdout.write(orjson.dumps({"completed_events": completed}).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
