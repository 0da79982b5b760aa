"""Serve one benchmarked app in this process:
`python -m tools.bench.serve ours|ours-unjournaled|baseline PORT`.

Both apps run the same way (uvicorn, one worker, default event loop and HTTP parser, no access
log from uvicorn itself) so the comparison measures the apps, not their servers. `ours` reads
its `Settings` from the environment exactly as production does. `ours-unjournaled` is the same
service with every write acknowledged before it is journaled (`w: 1`), as it wrote before
writes were made durable: what durability costs, measured in the same run. Only the benchmark
can run it so; the service has no setting for it.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] not in ("ours", "ours-unjournaled", "baseline"):
        print(
            "usage: python -m tools.bench.serve ours|ours-unjournaled|baseline PORT",
            file=sys.stderr,
        )
        return 2
    which, port = args[0], int(args[1])
    app: Any
    if which in ("ours", "ours-unjournaled"):
        from app.config import Settings
        from app.main import create_app

        if which == "ours-unjournaled":
            from app.models import write_concerns

            write_concerns.DURABLE_WRITES = write_concerns.RELAXED_WRITES
        app = create_app(Settings())
    else:
        from tools.bench.baseline import config_from_env, create_baseline_app

        app = create_baseline_app(config_from_env())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
