"""Control API under `/_sim/...` (no authentication: a test's back door): the clock, webhooks,
API keys and accounts, faults, trackers' scripts and statuses, events and their deliveries.

Errors use EasyPost's error shape, like the API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tools.shopify_sim.http import json_response
from tools.shopify_sim.models import iso

from .api import error_response, json_body
from .config import ScriptStep
from .models import JSON, Account, Fault, WebhookTarget
from .state import API_FAULTS, ENDPOINTS, WEBHOOK_FAULTS, ApiError, CarrierState, not_found
from .webhooks import EventDispatcher

Control = Callable[[Request, CarrierState, EventDispatcher], Awaitable[Response]]


def control(handler: Control) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        try:
            return await handler(request, request.app.state.carrier, request.app.state.dispatcher)
        except ApiError as error:
            return error_response(error)

    return route


def invalid(message: str) -> ApiError:
    return ApiError(400, "PARAMETER.INVALID", message)


async def _params(request: Request) -> JSON:
    """The JSON body merged over the query string."""
    return dict(request.query_params) | await json_body(request)


def _account(state: CarrierState, params: JSON) -> Account | None:
    """The account of `api_key`, or None when none is named (everyone, or the default)."""
    key = params.get("api_key")
    return None if key is None else _account_of(state, str(key))


def _account_of(state: CarrierState, key: str | None) -> Account:
    account = state.account_by_key(key)
    if account is None:
        raise ApiError(404, "NOT_FOUND", f"No account has the API key {key!r}.")
    return account


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise invalid(f"{name} must be a number") from error


def _steps(value: Any) -> list[ScriptStep]:
    """`[{"hours": 12, "status": "in_transit", "status_detail"?, "message"?}, ...]` or
    `[[12, "in_transit"], ...]`."""
    if not isinstance(value, list):
        raise invalid("steps must be a list")
    steps = []
    for item in value:
        if isinstance(item, list | tuple) and len(item) == 2:
            steps.append(ScriptStep(_number(item[0], "hours"), str(item[1])))
        elif isinstance(item, dict) and "hours" in item and "status" in item:
            steps.append(
                ScriptStep(
                    _number(item["hours"], "hours"),
                    str(item["status"]),
                    item.get("status_detail"),
                    item.get("message"),
                )
            )
        else:
            raise invalid("each step is {hours, status, status_detail?, message?}")
    return steps


def _emit(dispatcher: EventDispatcher, events: list[Any]) -> list[JSON]:
    for event in events:
        dispatcher.emit(event)
    return [{"id": e.id, "description": e.description, "chain": e.chain} for e in events]


async def health(_request: Request, _state: CarrierState, _d: EventDispatcher) -> Response:
    return json_response({"status": "ok"})


async def reset(_request: Request, state: CarrierState, dispatcher: EventDispatcher) -> Response:
    await dispatcher.cancel_all()
    state.reset()
    return json_response({"reset": True})


async def clock(_request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    with state.lock:
        offset = state.clock.offset.total_seconds() / 3600
        return json_response({"now": iso(state.clock.now()), "offset_hours": offset})


async def advance(request: Request, state: CarrierState, dispatcher: EventDispatcher) -> Response:
    params = await _params(request)
    hours = _number(params.get("hours", 0), "hours")
    if hours < 0:
        raise invalid("hours must not be negative: time only moves forward")
    events = _emit(dispatcher, state.advance(hours))
    return json_response({"now": iso(state.clock.now()), "events": events})


async def webhook(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`POST {url, secret?, api_key?}` sets the webhook (of one account, or everyone's
    default), `DELETE` removes it, `GET` shows it."""
    params = await _params(request)
    account = _account(state, params)
    if request.method == "POST":
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("url must be an http(s) URL")
        target = WebhookTarget(url, params.get("secret") or None)
    else:
        target = None
    with state.lock:
        if request.method != "GET":
            if account is not None:
                account.webhook = target
            else:
                state.default_webhook = target
        shown = account.webhook if account is not None else state.default_webhook
        return json_response({"webhook": None if shown is None else shown.public()})


async def add_api_key(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`POST {key?, webhook_url?, webhook_secret?}`: a new account (its own shipments, charges,
    faults and, when given, webhook); answers its summary with `api_key`."""
    params = await _params(request)
    target = (
        WebhookTarget(str(params["webhook_url"]), params.get("webhook_secret") or None)
        if params.get("webhook_url")
        else None
    )
    account = state.add_account(params.get("key") or None, target)
    return json_response(state.account_summary(account), status_code=201)


async def deactivate_api_key(
    request: Request, state: CarrierState, _d: EventDispatcher
) -> Response:
    account = state.account_by_key(request.path_params["key"])
    if account is None:
        raise not_found()
    with state.lock:
        account.active = False
    return json_response(state.account_summary(account))


async def account(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`GET ?api_key=` (default: the first configured key): charges, purchases, webhook."""
    key = (await _params(request)).get("api_key")
    default = state.config.api_keys[0] if state.config.api_keys else None
    return json_response(state.account_summary(_account_of(state, key or default)))


async def accounts(_request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    with state.lock:
        return json_response(
            {"accounts": [state.account_summary(a) for a in state.accounts.values()]}
        )


async def shipments(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    chosen = _account(state, await _params(request))
    with state.lock:
        shown = [
            state.shipment_summary(s)
            for s in state.shipments.values()
            if chosen is None or s.account_id == chosen.id
        ]
    return json_response({"shipments": shown})


async def shipment(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    with state.lock:
        found = state.shipments.get(request.path_params["id"])
        if found is None:
            raise not_found()
        return json_response(
            state.shipment_summary(found) | {"shipment": state.shipment_json(found)}
        )


def _api_fault(params: JSON) -> tuple[str, Fault]:
    name, kind = params.get("endpoint", "any"), params.get("kind")
    if name not in ENDPOINTS:
        raise invalid(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    if kind not in API_FAULTS:
        raise invalid(f"kind must be one of {', '.join(API_FAULTS)}")
    seconds = params.get("seconds")
    return name, Fault(
        kind, _count(params), seconds=None if seconds is None else _number(seconds, "seconds")
    )


def _webhook_fault(params: JSON) -> tuple[str, Fault]:
    kind, status = params.get("kind"), params.get("status")
    if kind not in WEBHOOK_FAULTS:
        raise invalid(f"kind must be one of {', '.join(WEBHOOK_FAULTS)}")
    return kind, Fault(kind, _count(params), status=None if status is None else str(status))


def _count(params: JSON) -> int:
    count = _number(params.get("count", 1), "count")
    if count < 1 or count != int(count):
        raise invalid("count must be a whole number, at least 1")
    return int(count)


async def _fault_queues(request: Request, state: CarrierState, *, webhook: bool) -> Response:
    """`POST` queues a fault (for one account with `api_key`, else for every account),
    `DELETE` clears the queues, `GET` lists them."""
    params = await _params(request)
    chosen = _account(state, params)
    owner: Account | CarrierState = state if chosen is None else chosen
    queues = owner.webhook_faults if webhook else owner.faults
    if request.method == "POST":
        key, fault = _webhook_fault(params) if webhook else _api_fault(params)
        with state.lock:
            queues.add(key, fault)
    elif request.method == "DELETE":
        with state.lock:
            queues.clear()
    with state.lock:
        return json_response({"webhook_faults" if webhook else "faults": queues.public()})


async def faults(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`{endpoint: create|buy|refund|retrieve|form|tracker|any, kind: error_500|error_503|timeout|
    apply_then_drop, count?, seconds?, api_key?}`: the next `count` requests to the endpoint
    fail so (`timeout`: held `seconds`, then 504; `apply_then_drop`: done, then 502)."""
    return await _fault_queues(request, state, webhook=False)


async def webhook_faults(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`{kind: duplicate|reorder|forged|fail_n, count?, status?, api_key?}`: the next `count`
    Events are sent twice / held until the tracker's next Event / preceded by a forged copy
    (claiming `status`, if given); `fail_n`: the next `count` delivery attempts fail as if the
    connection had."""
    return await _fault_queues(request, state, webhook=True)


async def tracker(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    with state.lock:
        found = state.trackers.get(request.path_params["id"])
        if found is None:
            raise not_found()
        script = [{"hours": s.hours, "status": s.status} for s in found.script]
        return json_response(
            state.tracker_json(found)
            | {"script": script, "next_step": found.next_step, "script_stopped": found.stopped}
        )


async def tracker_status(
    request: Request, state: CarrierState, dispatcher: EventDispatcher
) -> Response:
    """`POST {status, status_detail?, message?, keep_script?}`: the tracker moves now."""
    params = await _params(request)
    if not isinstance(params.get("status"), str):
        raise invalid("status is required")
    moved, event = state.jump(
        request.path_params["id"],
        params["status"],
        params.get("status_detail"),
        params.get("message"),
        bool(params.get("keep_script", False)),
    )
    events = _emit(dispatcher, [] if event is None else [event])
    return json_response({"tracker": state.tracker_json(moved), "events": events})


async def tracker_script(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    """`PUT {steps}`: a tracker's script (`/_sim/trackers/{id}/script`), or that of trackers
    bought from now on (`/_sim/tracker_script`)."""
    params = await _params(request)
    tracker_id = request.path_params.get("id")
    state.set_script(tracker_id, _steps(params.get("steps")))
    with state.lock:
        steps = (
            state.trackers[tracker_id].script if tracker_id is not None else state.tracker_script
        )
        return json_response({"steps": [{"hours": s.hours, "status": s.status} for s in steps]})


async def events(request: Request, state: CarrierState, _d: EventDispatcher) -> Response:
    params = await _params(request)
    chosen = _account(state, params)
    description = params.get("description")
    with state.lock:
        shown = [
            e.public()
            for e in state.events.values()
            if (chosen is None or e.account_id == chosen.id)
            and (description is None or e.description == description)
        ]
    return json_response({"events": shown})


async def resend(request: Request, state: CarrierState, dispatcher: EventDispatcher) -> Response:
    with state.lock:
        event = state.events.get(request.path_params["id"])
    if event is None:
        raise not_found()
    return json_response({"deliveries": dispatcher.resend(event)})


async def deliveries(
    request: Request, state: CarrierState, dispatcher: EventDispatcher
) -> Response:
    params = await _params(request)
    chosen = _account(state, params)
    event_id = params.get("event_id")
    with state.lock:
        shown = [
            dict(d) | {"attempts": list(d["attempts"])}
            for d in state.deliveries
            if (chosen is None or d["account_id"] == chosen.id)
            and (event_id is None or d["event_id"] == event_id)
        ]
    return json_response(
        {
            "deliveries": shown,
            "pending": dispatcher.pending,
            "held": sum(len(jobs) for jobs in dispatcher.held.values()),
        }
    )


async def settle(request: Request, _state: CarrierState, dispatcher: EventDispatcher) -> Response:
    """Wait until every delivery is done (`release=true`: send held Events first)."""
    params = await _params(request)
    if str(params.get("release", "")).lower() in {"1", "true"}:
        dispatcher.release_held()
    settled = await dispatcher.settle(_number(params.get("timeout", 10), "timeout"))
    return json_response({"settled": settled, "pending": dispatcher.pending})


async def release(_request: Request, _state: CarrierState, dispatcher: EventDispatcher) -> Response:
    return json_response({"released": dispatcher.release_held()})


def control_routes() -> list[BaseRoute]:
    return [
        Route("/_sim/health", control(health), methods=["GET"]),
        Route("/_sim/reset", control(reset), methods=["POST"]),
        Route("/_sim/clock", control(clock), methods=["GET"]),
        Route("/_sim/clock/advance", control(advance), methods=["POST"]),
        Route("/_sim/webhook", control(webhook), methods=["GET", "POST", "DELETE"]),
        Route("/_sim/api_keys", control(add_api_key), methods=["POST"]),
        Route("/_sim/api_keys/{key}", control(deactivate_api_key), methods=["DELETE"]),
        Route("/_sim/account", control(account), methods=["GET"]),
        Route("/_sim/accounts", control(accounts), methods=["GET"]),
        Route("/_sim/shipments", control(shipments), methods=["GET"]),
        Route("/_sim/shipments/{id}", control(shipment), methods=["GET"]),
        Route("/_sim/faults", control(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sim/webhook_faults", control(webhook_faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sim/trackers/{id}", control(tracker), methods=["GET"]),
        Route("/_sim/trackers/{id}/status", control(tracker_status), methods=["POST"]),
        Route("/_sim/trackers/{id}/script", control(tracker_script), methods=["PUT", "POST"]),
        Route("/_sim/tracker_script", control(tracker_script), methods=["PUT", "POST"]),
        Route("/_sim/events", control(events), methods=["GET"]),
        Route("/_sim/events/{id}/resend", control(resend), methods=["POST"]),
        Route("/_sim/deliveries", control(deliveries), methods=["GET"]),
        Route("/_sim/deliveries/settle", control(settle), methods=["POST"]),
        Route("/_sim/deliveries/release", control(release), methods=["POST"]),
    ]
