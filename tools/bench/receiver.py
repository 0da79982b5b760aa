"""A webhook receiver for `rms bench` notifications, in a process of its own (so its work does
not share the measured process's interpreter): answers every POST to /hook with 204.

`python -m tools.bench.receiver PORT`
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
