"""Serve one benchmarked app in this process: `python -m tools.bench.serve ours|baseline PORT`.

Both apps run the same way (uvicorn, one worker, default event loop and HTTP parser, no access
log from uvicorn itself) so the comparison measures the apps, not their servers. `ours` reads
its `Settings` from the environment exactly as production does.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] not in ("ours", "baseline"):
        print("usage: python -m tools.bench.serve ours|baseline PORT", file=sys.stderr)
        return 2
    which, port = args[0], int(args[1])
    app: Any
    if which == "ours":
        from app.config import Settings
        from app.main import create_app

        app = create_app(Settings())
    else:
        from tools.bench.baseline import config_from_env, create_baseline_app

        app = create_baseline_app(config_from_env())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
