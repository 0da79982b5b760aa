"""Async typed helper for the carrier simulator's control API (tests, `rms dev`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

import httpx

from .config import ScriptStep

JSON = dict[str, Any]
Endpoint = Literal["create", "buy", "refund", "retrieve", "form", "tracker", "any"]
ApiFault = Literal["error_500", "error_503", "timeout", "apply_then_drop"]
WebhookFault = Literal["duplicate", "reorder", "forged", "fail_n"]
Step = ScriptStep | tuple[float, str]


def _step(step: Step) -> JSON:
    if isinstance(step, ScriptStep):
        return {key: value for key, value in asdict(step).items() if value is not None}
    return {"hours": step[0], "status": step[1]}


class CarrierSimControl:
    """Thin typed wrapper around `/_sim/...`; uses the caller's `httpx.AsyncClient`.

    `api_key` arguments scope a call to one account (each API key is its own account); left
    out, faults and the webhook apply to every account without its own.
    """

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def _call(self, method: str, path: str, json: JSON | None = None, **params: Any) -> JSON:
        query = {key: value for key, value in params.items() if value is not None}
        response = await self.http.request(
            method, f"{self.base_url}{path}", json=json, params=query or None
        )
        response.raise_for_status()
        result: JSON = response.json()
        return result

    @staticmethod
    def _body(**fields: Any) -> JSON:
        return {key: value for key, value in fields.items() if value is not None}

    async def health(self) -> JSON:
        return await self._call("GET", "/_sim/health")

    async def reset(self) -> JSON:
        """Everything back as configured: no shipments, events or faults; the clock at now."""
        return await self._call("POST", "/_sim/reset")

    # Clock ---------------------------------------------------------------------------------
    async def clock(self) -> JSON:
        """`{now, offset_hours}`."""
        return await self._call("GET", "/_sim/clock")

    async def advance(self, hours: float) -> JSON:
        """Move the clock: due tracker steps happen and submitted refunds complete. Answers
        `{now, events: [{id, description, chain}]}` (the Events emitted, in order)."""
        return await self._call("POST", "/_sim/clock/advance", {"hours": hours})

    # Accounts and webhooks -----------------------------------------------------------------
    async def set_webhook(
        self, url: str, secret: str | None = None, *, api_key: str | None = None
    ) -> JSON:
        return await self._call(
            "POST", "/_sim/webhook", self._body(url=url, secret=secret, api_key=api_key)
        )

    async def webhook(self, *, api_key: str | None = None) -> JSON:
        return await self._call("GET", "/_sim/webhook", api_key=api_key)

    async def clear_webhook(self, *, api_key: str | None = None) -> JSON:
        return await self._call("DELETE", "/_sim/webhook", self._body(api_key=api_key))

    async def add_api_key(
        self,
        key: str | None = None,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> str:
        """A new account; returns its API key (`EZTK...` unless `key` is given)."""
        created = await self._call(
            "POST",
            "/_sim/api_keys",
            self._body(key=key, webhook_url=webhook_url, webhook_secret=webhook_secret),
        )
        api_key: str = created["api_key"]
        return api_key

    async def deactivate_api_key(self, key: str) -> JSON:
        """The key answers 401 `APIKEY.INACTIVE` from now on."""
        return await self._call("DELETE", f"/_sim/api_keys/{key}")

    async def account(self, api_key: str | None = None) -> JSON:
        """`{id, api_key, active, charges_total, refunds_total, net_total, purchases,
        shipments, webhook, faults, webhook_faults}` (money as "7.58")."""
        return await self._call("GET", "/_sim/account", api_key=api_key)

    async def accounts(self) -> list[JSON]:
        shown: list[JSON] = (await self._call("GET", "/_sim/accounts"))["accounts"]
        return shown

    async def shipments(self, *, api_key: str | None = None) -> list[JSON]:
        """Each `{id, account_id, reference, purchases, buy_attempts, charged, refund_status,
        selected_rate, tracking_code, tracker_id, tracker_status, ...}`."""
        shown: list[JSON] = (await self._call("GET", "/_sim/shipments", api_key=api_key))[
            "shipments"
        ]
        return shown

    async def shipment(self, shipment_id: str) -> JSON:
        """The summary of `shipments()` plus `shipment` (as `GET /v2/shipments/{id}`)."""
        return await self._call("GET", f"/_sim/shipments/{shipment_id}")

    # Faults --------------------------------------------------------------------------------
    async def add_fault(
        self,
        kind: ApiFault,
        endpoint: Endpoint = "any",
        count: int = 1,
        *,
        seconds: float | None = None,
        api_key: str | None = None,
    ) -> JSON:
        """The next `count` requests to `endpoint` answer 500 / 503 / 504 after `seconds`
        (`timeout`) / 502 with no body after doing the work (`apply_then_drop`)."""
        return await self._call(
            "POST",
            "/_sim/faults",
            self._body(endpoint=endpoint, kind=kind, count=count, seconds=seconds, api_key=api_key),
        )

    async def faults(self, *, api_key: str | None = None) -> JSON:
        return await self._call("GET", "/_sim/faults", api_key=api_key)

    async def clear_faults(self, *, api_key: str | None = None) -> JSON:
        return await self._call("DELETE", "/_sim/faults", self._body(api_key=api_key))

    async def add_webhook_fault(
        self,
        kind: WebhookFault,
        count: int = 1,
        *,
        status: str | None = None,
        api_key: str | None = None,
    ) -> JSON:
        """`duplicate`: the next `count` Events are sent twice (same id); `reorder`: held
        until the next Event of their tracker has been sent; `forged`: preceded by a copy with
        a wrong signature (claiming tracker `status`, if given); `fail_n`: the next `count`
        delivery attempts fail as a refused connection would (then retried)."""
        return await self._call(
            "POST",
            "/_sim/webhook_faults",
            self._body(kind=kind, count=count, status=status, api_key=api_key),
        )

    async def clear_webhook_faults(self, *, api_key: str | None = None) -> JSON:
        return await self._call("DELETE", "/_sim/webhook_faults", self._body(api_key=api_key))

    # Trackers ------------------------------------------------------------------------------
    async def tracker(self, tracker_id: str) -> JSON:
        """The Tracker plus `script`, `next_step`, `script_stopped`."""
        return await self._call("GET", f"/_sim/trackers/{tracker_id}")

    async def set_tracker_status(
        self,
        tracker_id: str,
        status: str,
        *,
        status_detail: str | None = None,
        message: str | None = None,
        keep_script: bool = False,
    ) -> JSON:
        """Move the tracker now (a tracking detail and a `tracker.updated` Event); its script
        stops unless `keep_script`. Answers `{tracker, events}`."""
        return await self._call(
            "POST",
            f"/_sim/trackers/{tracker_id}/status",
            self._body(
                status=status,
                status_detail=status_detail,
                message=message,
                keep_script=keep_script,
            ),
        )

    async def set_tracker_script(self, tracker_id: str, steps: Sequence[Step]) -> JSON:
        """Replace the tracker's script (hours after purchase); due steps fire at the next
        `advance` (`advance(0)` for at once)."""
        return await self._call(
            "PUT", f"/_sim/trackers/{tracker_id}/script", {"steps": [_step(s) for s in steps]}
        )

    async def set_default_tracker_script(self, steps: Sequence[Step]) -> JSON:
        """The script of trackers bought from now on."""
        return await self._call("PUT", "/_sim/tracker_script", {"steps": [_step(s) for s in steps]})

    # Events and deliveries -----------------------------------------------------------------
    async def events(
        self, *, api_key: str | None = None, description: str | None = None
    ) -> list[JSON]:
        """Each `{id, account_id, description, urls, completed_urls, payload}`, oldest first."""
        shown: list[JSON] = (
            await self._call("GET", "/_sim/events", api_key=api_key, description=description)
        )["events"]
        return shown

    async def resend_event(self, event_id: str) -> JSON:
        """Deliver the Event again, byte for byte (a late duplicate)."""
        return await self._call("POST", f"/_sim/events/{event_id}/resend")

    async def deliveries(
        self, *, event_id: str | None = None, api_key: str | None = None
    ) -> list[JSON]:
        """Each `{id, event_id, description, url, copy, forged, state (pending, held,
        delivered, failed), attempts: [{attempt, status_code, error, ok, signed, at}]}`."""
        shown: list[JSON] = (
            await self._call("GET", "/_sim/deliveries", event_id=event_id, api_key=api_key)
        )["deliveries"]
        return shown

    async def settle(self, *, timeout: float = 10.0, release: bool = False) -> JSON:
        """Wait until nothing is being delivered; `release`: send held Events first."""
        return await self._call(
            "POST",
            "/_sim/deliveries/settle",
            timeout=timeout,
            release=str(release).lower(),
        )

    async def release_held(self) -> JSON:
        return await self._call("POST", "/_sim/deliveries/release")
