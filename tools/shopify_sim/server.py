"""Run the simulator with uvicorn: in a background thread (tests) or blocking (`rms sim`)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from .app import create_simulator_app
from .config import SimulatorConfig


class ThreadedASGIServer:
    """Any ASGI app on 127.0.0.1 and a free port, served by uvicorn from a daemon thread.

    `start()`/`stop()` are synchronous and quick; `astart()`/`astop()` run them off the event
    loop. Both `with` and `async with` work.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        # The loop serving the app, for diagnostics (what its tasks wait on when one hangs).
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            return self
        # IPPROTO_TCP named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
        # whose protocol says TCP, and with it on every keep-alive answer waited ~40 ms for a
        # delayed acknowledgement.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
            # On loopback no proxy stands in front: a client's X-Forwarded-For is its own
            # claim (uvicorn would otherwise take it as the client's address).
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        self._server = server

        async def serve_here() -> None:
            self.loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        def serve() -> None:
            asyncio.run(serve_here())

        self._thread = threading.Thread(target=serve, name=f"asgi:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                state = getattr(self.app, "state", None)
                cause = getattr(state, "startup_error", None) or (
                    "timed out" if self._thread.is_alive() else "the server thread exited"
                )
                raise RuntimeError(f"{type(self.app).__name__} server did not start: {cause}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = None
        self._thread = None

    async def astart(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.astop()


class SimulatorServer(ThreadedASGIServer):
    """The Shopify simulator in a background thread; `.base_url`, `.admin_base_template`."""

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimulatorConfig()
        super().__init__(create_simulator_app(self.config), host, port)

    @property
    def admin_base_template(self) -> str:
        return f"{self.base_url}/{{shop}}"

    def graphql_url(self, shop: str, api_version: str = "2026-10") -> str:
        return f"{self.base_url}/{shop}/admin/api/{api_version}/graphql.json"


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 9100,
    seed: int = 1,
    api_key: str = "sim-api-key",
    api_secret: str = "sim-api-secret",  # noqa: S107 - the simulator's default app secret
    shops: list[str] | None = None,
    **options: Any,
) -> None:
    """Serve the simulator in the foreground until interrupted (`rms sim --port 9100`).

    Extra keyword options go to `SimulatorConfig` (e.g. `default_orders=1000`,
    `webhook_time_scale=0.1`, `compliance_url="http://127.0.0.1:8000/api/webhooks/{topic}"`).
    """
    config = SimulatorConfig(
        api_key=api_key, api_secret=api_secret, seed=seed, shops=tuple(shops or ()), **options
    )
    uvicorn.run(create_simulator_app(config), host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="shopify-sim", description="Local Shopify simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="sim-api-key")
    parser.add_argument("--api-secret", default="sim-api-secret")
    parser.add_argument(
        "--shop", action="append", default=[], help="pre-create a shop (repeatable)"
    )
    parser.add_argument("--orders", type=int, default=250, help="orders seeded per shop")
    parser.add_argument("--webhook-time-scale", type=float, default=1.0)
    parser.add_argument("--compliance-url", default=None)
    parser.add_argument(
        "--app-proxy-url", default=None, help="storefront /apps/returns/... forwards here"
    )
    args = parser.parse_args(argv)
    run_simulator(
        args.host,
        args.port,
        args.seed,
        args.api_key,
        args.api_secret,
        args.shop,
        default_orders=args.orders,
        webhook_time_scale=args.webhook_time_scale,
        compliance_url=args.compliance_url,
        app_proxy_url=args.app_proxy_url,
    )
