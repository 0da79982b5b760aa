"""`create_carrier_sim_app(config)`: the whole simulated EasyPost as one ASGI app (the `/v2`
API, public files and tracking pages, and the `/_sim` control API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from .api import api_routes
from .config import CarrierSimConfig
from .control import control_routes
from .state import CarrierState
from .webhooks import EventDispatcher


def create_carrier_sim_app(config: CarrierSimConfig | None = None) -> Starlette:
    config = config or CarrierSimConfig()
    state = CarrierState(config)
    dispatcher = EventDispatcher(config, state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await dispatcher.start()
        except Exception as exc:
            # `ThreadedASGIServer.start` reports this cause (uvicorn gives only an exit code)
            app.state.startup_error = f"{type(exc).__name__}: {exc}"
            raise
        try:
            yield
        finally:
            await dispatcher.close()

    app = Starlette(routes=[*control_routes(), *api_routes()], lifespan=lifespan)
    app.state.carrier = state
    app.state.dispatcher = dispatcher
    app.state.config = config
    return app
