"""EasyPost's REST API (the subset the service uses) under `/v2`, and the public files EasyPost
links to (label PDFs, QR code forms, tracking pages).

Every `/v2` request is authenticated (HTTP Basic with the API key as user name, or Bearer),
then meets the faults queued for its endpoint, then does its work.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from tools.shopify_sim.admin_api import _hang as hang
from tools.shopify_sim.http import json_response

from .documents import tracking_page
from .models import JSON, Account, Fault
from .state import ApiError, CarrierState, not_found
from .webhooks import EventDispatcher

Handler = Callable[[Request, CarrierState, Account], Awaitable[Response]]


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), status_code=error.status)


def _sim(request: Request) -> tuple[CarrierState, EventDispatcher]:
    return request.app.state.carrier, request.app.state.dispatcher


def api_key_of(request: Request) -> str | None:
    """The key of `Authorization: Basic base64(key:)` (the password is not looked at, as
    EasyPost's clients send none) or `Authorization: Bearer key`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def base_url(request: Request) -> str:
    configured = request.app.state.config.public_base_url
    return str(configured or request.base_url).rstrip("/")


async def json_body(request: Request) -> JSON:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        loaded = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "PARAMETER.INVALID", f"The body is not valid JSON: {error}") from error
    if not isinstance(loaded, dict):
        raise ApiError(400, "PARAMETER.INVALID", "The body must be a JSON object.")
    return loaded


# what the faults that stop a request answer (`timeout` after holding it)
FAULT_ERRORS = {
    "error_500": ApiError(500, "INTERNAL_SERVER_ERROR", "Something went wrong on our end."),
    "error_503": ApiError(503, "SERVICE.UNAVAILABLE", "The service is temporarily unavailable."),
    "timeout": ApiError(504, "GATEWAY_TIMEOUT", "The request timed out upstream."),
}


async def fault_answer(request: Request, fault: Fault) -> Response:
    if fault.kind == "timeout":
        configured: float = request.app.state.config.fault_timeout_seconds
        await hang(request, configured if fault.seconds is None else fault.seconds)
    return error_response(FAULT_ERRORS[fault.kind])


def endpoint(name: str | None, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, apply the endpoint's next fault (`name` None: none), run `handler`, map
    `ApiError`s."""

    async def route(request: Request) -> Response:
        state, _ = _sim(request)
        key = api_key_of(request)
        account = state.account_by_key(key)
        if account is None or not account.active:
            code = "APIKEY.REQUIRED" if key is None else "APIKEY.INACTIVE"
            message = (
                "Missing API key: send it as the user name of HTTP Basic authentication."
                if key is None
                else "This API key is not valid or no longer active."
            )
            response = error_response(ApiError(401, code, message))
            response.headers["WWW-Authenticate"] = 'Basic realm="EasyPost"'
            return response
        fault = None if name is None else state.take_fault(account, name)
        if fault is not None and fault.kind != "apply_then_drop":
            return await fault_answer(request, fault)
        try:
            response = await handler(request, state, account)
        except ApiError as error:
            response = error_response(error)
        if fault is not None and fault.kind == "apply_then_drop":
            # the work is done (label bought, refund asked), the answer is lost on its way
            return Response(b"", status_code=502)
        return response

    return route


async def create_shipment(request: Request, state: CarrierState, account: Account) -> Response:
    shipment = state.create_shipment(account, await json_body(request))
    return json_response(state.shipment_json(shipment), status_code=201)


async def retrieve_shipment(request: Request, state: CarrierState, account: Account) -> Response:
    shipment = state.shipment_of(account, request.path_params["id"])
    return json_response(state.shipment_json(shipment))


async def buy_shipment(request: Request, state: CarrierState, account: Account) -> Response:
    body = await json_body(request)
    shipment, events = state.buy(account, request.path_params["id"], body, base_url(request))
    _, dispatcher = _sim(request)
    for event in events:
        dispatcher.emit(event)
    return json_response(state.shipment_json(shipment))


async def refund_shipment(request: Request, state: CarrierState, account: Account) -> Response:
    shipment = state.refund(account, request.path_params["id"])
    return json_response(state.shipment_json(shipment))


async def create_form(request: Request, state: CarrierState, account: Account) -> Response:
    """`{"form": {"type": "label_qr_code"}}` -> the Shipment with the Form in `forms`."""
    body = await json_body(request)
    shipment = state.create_form(account, request.path_params["id"], body, base_url(request))
    return json_response(state.shipment_json(shipment))


async def retrieve_tracker(request: Request, state: CarrierState, account: Account) -> Response:
    tracker = state.tracker_of(account, request.path_params["id"])
    return json_response(state.tracker_json(tracker))


async def unknown_path(request: Request, _state: CarrierState, _account: Account) -> Response:
    raise not_found()


async def public_file(request: Request) -> Response:
    """Label PDFs and QR codes: public, unguessable URLs, as EasyPost's storage links are."""
    state, _ = _sim(request)
    with state.lock:
        found = state.files.get(request.url.path)
    if found is None:
        return Response(b"Not Found", status_code=404, media_type="text/plain")
    content, media_type = found
    return Response(content, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


async def public_tracking_page(request: Request) -> Response:
    state, _ = _sim(request)
    tracker = state.tracker_by_code(request.path_params["code"])
    if tracker is None:
        return HTMLResponse("<!doctype html><p>Unknown tracking code</p>", status_code=404)
    return HTMLResponse(tracking_page(state.tracker_json(tracker)))


def api_routes() -> list[BaseRoute]:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return [
        Route("/v2/shipments", endpoint("create", create_shipment), methods=["POST"]),
        Route("/v2/shipments/{id}", endpoint("retrieve", retrieve_shipment), methods=["GET"]),
        Route("/v2/shipments/{id}/buy", endpoint("buy", buy_shipment), methods=["POST"]),
        Route("/v2/shipments/{id}/refund", endpoint("refund", refund_shipment), methods=["POST"]),
        Route("/v2/shipments/{id}/forms", endpoint("form", create_form), methods=["POST"]),
        Route("/v2/trackers/{id}", endpoint("tracker", retrieve_tracker), methods=["GET"]),
        Route("/v2/{rest:path}", endpoint(None, unknown_path), methods=methods),
        Route("/files/labels/{name}", public_file, methods=["GET"]),
        Route("/files/forms/{name}", public_file, methods=["GET"]),
        Route("/track/{code}", public_tracking_page, methods=["GET"]),
    ]
