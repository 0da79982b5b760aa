"""`/api/auth/shopify/install` and `/callback`: the OAuth install flow (app/services/integration/install.py).

Failures answer 4xx/502 JSON `{"error": code, "message": ...}` and never echo tokens. The install
route runs under the request's database deadline (`MONGODB_REQUEST_TIMEOUT_MS`); the callback,
which also waits on Shopify, bounds each of its database steps with it (`complete_install`). A
database that does not answer in time gets 503 `{"error": "database_unavailable", ...}` and the
merchant retries.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app.config import Settings
from app.http.database_deadline import DatabaseDeadlineRoute, DatabaseStepDeadlinesRoute
from app.http.responses import json_response
from app.services.integration.install import (
    InstallError,
    InstallErrorCode,
    complete_install,
    start_install,
)

router = APIRouter(prefix="/api/auth/shopify", tags=["shopify"], route_class=DatabaseDeadlineRoute)

NO_STORE = {"Cache-Control": "no-store"}


def _resources(request: Request) -> Any:
    return request.app.state.resources


def _settings(request: Request) -> Settings:
    settings: Settings = _resources(request).settings
    return settings


def _http(request: Request) -> httpx.AsyncClient:
    http: httpx.AsyncClient = _resources(request).shopify_http
    return http


# The answer to each refused install step: a bad or unsigned request, a grant that lacks
# scopes, Shopify out of reach.
INSTALL_ERROR_STATUS = {
    InstallErrorCode.DUPLICATE_PARAMETER: 400,
    InstallErrorCode.INVALID_SHOP: 400,
    InstallErrorCode.MISSING_PARAMETER: 400,
    InstallErrorCode.INVALID_STATE: 400,
    InstallErrorCode.CODE_EXCHANGE_REFUSED: 400,
    InstallErrorCode.MISSING_HMAC: 401,
    InstallErrorCode.INVALID_HMAC: 401,
    InstallErrorCode.STALE_REQUEST: 401,
    InstallErrorCode.MISSING_SCOPES: 403,
    InstallErrorCode.SHOPIFY_UNAVAILABLE: 502,
}


def _refused(error: InstallError) -> Response:
    return json_response(
        {"error": error.code.value, "message": error.message},
        status_code=INSTALL_ERROR_STATUS[error.code],
        headers=NO_STORE,
    )


@router.api_route(
    "/install",
    methods=["GET", "HEAD"],
    summary="Start the install: redirect to Shopify's authorize page",
)
async def install(request: Request) -> Response:
    try:
        url = await start_install(_settings(request), request.query_params.multi_items())
    except InstallError as error:
        return _refused(error)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


async def callback(request: Request) -> Response:
    try:
        result = await complete_install(
            _settings(request), _http(request), request.query_params.multi_items()
        )
    except InstallError as error:
        return _refused(error)
    return RedirectResponse(result.redirect_url, status_code=302, headers=NO_STORE)


router.add_api_route(
    "/callback",
    callback,
    methods=["GET", "HEAD"],
    summary="Finish the install: verify, exchange the code, connect",
    route_class_override=DatabaseStepDeadlinesRoute,
)
