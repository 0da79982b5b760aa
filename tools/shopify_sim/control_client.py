"""Async helper for the control API (tests, benchmarks, the CLI): shops, orders, faults, deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from .storefront import CUSTOMER_COOKIE

JSON = dict[str, Any]
DEFAULT_SCOPES = "read_orders,read_all_orders,read_customers,read_returns,write_returns"


@dataclass(frozen=True)
class InstalledShop:
    """A shop with the app installed and the token grant of that install."""

    domain: str
    base_url: str
    access_token: str
    refresh_token: str
    scope: str
    expires_in: int

    @property
    def admin_base_template(self) -> str:
        return f"{self.base_url}/{{shop}}"

    @property
    def admin_base(self) -> str:
        return f"{self.base_url}/{self.domain}"

    def graphql_url(self, api_version: str = "2026-10") -> str:
        return f"{self.admin_base}/admin/api/{api_version}/graphql.json"


def unique_shop_domain(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}.myshopify.com"


class SimulatorControl:
    """Thin typed wrapper around `/_sim/...`; uses the caller's `httpx.AsyncClient`."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, api_key: str, api_secret: str
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_secret = api_secret

    async def _call(self, method: str, path: str, json: JSON | None = None, **params: Any) -> JSON:
        response = await self.http.request(
            method, f"{self.base_url}{path}", json=json, params=params or None
        )
        response.raise_for_status()
        result: JSON = response.json()
        return result

    async def create_shop(
        self,
        domain: str | None = None,
        *,
        orders: int = 25,
        seed: int | None = None,
        bucket_size: float | None = None,
        restore_rate: float | None = None,
        compliance_url: str | None = None,
        install: Literal[True] = True,
        scope: str = DEFAULT_SCOPES,
        currency: str | None = None,
    ) -> InstalledShop:
        """Create (or re-create) a shop and do the real OAuth dance; returns its tokens."""
        created = await self.create_bare_shop(
            domain,
            orders=orders,
            seed=seed,
            bucket_size=bucket_size,
            restore_rate=restore_rate,
            compliance_url=compliance_url,
            currency=currency,
        )
        return await self.install(created["domain"], scope=scope)

    async def create_bare_shop(
        self,
        domain: str | None = None,
        *,
        orders: int = 25,
        seed: int | None = None,
        bucket_size: float | None = None,
        restore_rate: float | None = None,
        compliance_url: str | None = None,
        currency: str | None = None,
    ) -> JSON:
        """Create (or re-create) a shop without installing the app in it (`currency`: the
        shop's and its orders' currency, e.g. "JPY" or "KWD"; USD by default)."""
        body: JSON = {"domain": domain or unique_shop_domain(), "orders": orders}
        for key, value in (
            ("seed", seed),
            ("bucket_size", bucket_size),
            ("restore_rate", restore_rate),
            ("compliance_url", compliance_url),
            ("currency", currency),
        ):
            if value is not None:
                body[key] = value
        return await self._call("POST", "/_sim/shops", body)

    async def authorize(
        self,
        domain: str,
        *,
        scope: str = DEFAULT_SCOPES,
        state: str = "nonce",
        redirect_uri: str = "http://app.test/callback",
    ) -> dict[str, str]:
        """Run the authorize step; returns the callback query parameters Shopify would send."""
        response = await self.http.get(
            f"{self.base_url}/{domain}/admin/oauth/authorize",
            params={
                "client_id": self.api_key,
                "scope": scope,
                "redirect_uri": redirect_uri,
                "state": state,
            },
            follow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"authorize failed: {response.status_code} {response.text}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return {key: values[0] for key, values in query.items()}

    async def install(self, domain: str, *, scope: str = DEFAULT_SCOPES) -> InstalledShop:
        params = await self.authorize(domain, scope=scope)
        response = await self.http.post(
            f"{self.base_url}/{domain}/admin/oauth/access_token",
            json={
                "client_id": self.api_key,
                "client_secret": self.api_secret,
                "code": params["code"],
            },
        )
        response.raise_for_status()
        grant = response.json()
        return InstalledShop(
            domain=domain,
            base_url=self.base_url,
            access_token=grant["access_token"],
            refresh_token=grant["refresh_token"],
            scope=grant["scope"],
            expires_in=grant["expires_in"],
        )

    async def shop_state(self, domain: str) -> JSON:
        return await self._call("GET", f"/_sim/shops/{domain}")

    async def orders(self, domain: str, *, offset: int = 0, limit: int = 50) -> JSON:
        return await self._call("GET", f"/_sim/shops/{domain}/orders", offset=offset, limit=limit)

    async def create_order(self, domain: str, **body: Any) -> JSON:
        """`payments=[{"gateway": "gift_card", "amount": "10.00"}, {"gateway": "shopify_payments"}]`
        pays the order with those transactions (the last may omit `amount`: the rest)."""
        return await self._call("POST", f"/_sim/shops/{domain}/orders", body)

    async def order(self, domain: str, order: str) -> JSON:
        """One order (GID, number or `#1001`) with its `transactions` and `refunds`."""
        reference = order.rsplit("/", 1)[-1]
        return await self._call("GET", f"/_sim/shops/{domain}/orders/{quote(reference, safe='')}")

    async def update_order(self, domain: str, order: str, **body: Any) -> JSON:
        reference = order.rsplit("/", 1)[-1]
        return await self._call(
            "POST", f"/_sim/shops/{domain}/orders/{quote(reference, safe='')}", body
        )

    async def staff_return(self, domain: str, action: str, **body: Any) -> JSON:
        """Act on a return as staff in Shopify admin (`request`, `create` (OPEN at once, as
        `returnCreate`, `exchangeLineItems` too), `approve`, `decline`, `cancel`, `process`,
        `close`, `reopen`; `body` is the Admin mutation's input, e.g. `returnShippingFee` and
        line `restockingFee` for `request` and `create`): the simulator delivers the webhook.
        The answer's `return` shows `exchange_line_items: [{id, variant_id, quantity,
        processed_quantity, unit_price, discount, discount_description, line_item_ids}]`."""
        return await self._call(
            "POST", f"/_sim/shops/{domain}/staff/returns", {"action": action, **body}
        )

    async def return_state(self, domain: str, return_id: str) -> JSON:
        """One return (GID or number) as `shop_state` lists it, plus each reverse fulfillment
        order's deliveries: `{id, name, status, order_id, line_items, reverse_fulfillment_orders:
        [{id, status, line_item_ids, reverse_deliveries}], ...}`."""
        reference = quote(return_id.rsplit("/", 1)[-1], safe="")
        return await self._call("GET", f"/_sim/shops/{domain}/returns/{reference}")

    async def reverse_deliveries(self, domain: str, return_id: str) -> list[JSON]:
        """The return's reverse deliveries, oldest first over its reverse fulfillment orders:
        `[{id, reverse_fulfillment_order_id, created_at, tracking: null | {carrier_name,
        tracking_number, tracking_url}, label_url, notify_customer (as asked), customer_notified (asked and a
        label to send), line_items: [{id, reverse_fulfillment_order_line_item_id,
        quantity}]}]`."""
        record = await self.return_state(domain, return_id)
        return [
            delivery
            for reverse in record["reverse_fulfillment_orders"]
            for delivery in reverse["reverse_deliveries"]
        ]

    async def fulfillment_orders(self, domain: str, order: str) -> list[JSON]:
        """The order's fulfillment orders (those exchanges opened): `[{id, status, hold_reasons,
        return_id, line_items: [{id, line_item_id, variant_id, quantity}]}]`."""
        shown: list[JSON] = (await self.order(domain, order))["fulfillment_orders"]
        return shown

    async def store_credit(self, domain: str, customer_id: str) -> JSON:
        """The customer's store credit accounts (GID or number): `{customer_id, accounts: [{id,
        currency, balance, transactions: [{id, type: "CREDIT", amount, balanceAfterTransaction,
        createdAt, expiresAt, origin: null | {id, kind, gateway}}]}]}`; money as MoneyV2
        (`{amount: "30.00", currencyCode: "USD"}`), transactions oldest first."""
        reference = quote(customer_id.rsplit("/", 1)[-1], safe="")
        return await self._call("GET", f"/_sim/shops/{domain}/customers/{reference}/store_credit")

    async def locations(self, domain: str) -> JSON:
        """`{locations: [{id, name, is_active}]}` (the main warehouse first)."""
        return await self._call("GET", f"/_sim/shops/{domain}/locations")

    async def inventory(self, domain: str, variant_id: str) -> JSON:
        """A variant's stock: `{variant_id, inventory_item_id, available, levels: [{id,
        location_id, location_name, available, on_hand}]}`."""
        reference = quote(variant_id.rsplit("/", 1)[-1], safe="")
        return await self._call("GET", f"/_sim/shops/{domain}/inventory/{reference}")

    async def set_inventory(
        self, domain: str, variant_id: str, location_id: str, available: int
    ) -> JSON:
        """Set the variant's `available` at a location (GIDs or numbers); answers as
        `inventory`."""
        reference = quote(variant_id.rsplit("/", 1)[-1], safe="")
        return await self._call(
            "POST",
            f"/_sim/shops/{domain}/inventory/{reference}",
            {"location_id": location_id, "available": available},
        )

    async def customers(self, domain: str) -> list[JSON]:
        """The shop's customers: `[{id (GID), customer_id (number), email, name, orders: [{id,
        name ("#1001"), number (1001)}]}]`."""
        shown: list[JSON] = (await self._call("GET", f"/_sim/shops/{domain}/customers"))[
            "customers"
        ]
        return shown

    async def order_customer(self, domain: str, order: str) -> JSON:
        """Who placed the order (GID, number or `#1001`): as an entry of `customers`."""
        reference = order.rsplit("/", 1)[-1]
        return await self._call(
            "GET", f"/_sim/shops/{domain}/orders/{quote(reference, safe='')}/customer"
        )

    async def customer_id_for_order(self, domain: str, order: str) -> str:
        """The numeric id of the order's customer: what `/account/login?customer_id=` takes and
        the app proxy sends as `logged_in_customer_id`."""
        customer_id: str = (await self.order_customer(domain, order))["customer_id"]
        return customer_id

    async def set_app_proxy(
        self,
        url: str | None,
        *,
        prefix: str = "apps",
        subpath: str = "returns",
        timeout: float | None = None,
    ) -> JSON:
        """Every shop's storefront `/{prefix}/{subpath}/...` forwards to `url` from now on
        (None: no app proxy); `timeout` in seconds (default the config's, 10). Answers
        `{url, prefix, subpath, path_prefix, timeout}`."""
        body: JSON = {"url": url, "prefix": prefix, "subpath": subpath}
        if timeout is not None:
            body["timeout"] = timeout
        return await self._call("PUT", "/_sim/app-proxy", body)

    async def app_proxy(self) -> JSON:
        return await self._call("GET", "/_sim/app-proxy")

    async def clear_app_proxy(self) -> JSON:
        return await self._call("DELETE", "/_sim/app-proxy")

    async def storefront_sign_in(
        self, domain: str, customer_id: str, *, http: httpx.AsyncClient | None = None
    ) -> dict[str, str]:
        """Sign the customer (number or GID) in on the shop's storefront through
        `/account/login`; returns the cookie it set (`{"_sim_customer": "<id>"}`) for a client
        or browser of that shop. With `http`, that client keeps the cookie too (its jar files it
        under the simulator's host, so it is sent on every later request of that client)."""
        client = http or httpx.AsyncClient(trust_env=False, timeout=10.0)
        try:
            response = await client.get(
                f"{self.base_url}/account/login",
                params={"customer_id": customer_id},
                headers={"Host": domain},
                follow_redirects=False,
            )
        finally:
            if http is None:
                await client.aclose()
        if response.status_code != 303:
            raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:200]}")
        return {CUSTOMER_COOKIE: response.cookies[CUSTOMER_COOKIE]}

    async def uninstall(self, domain: str) -> JSON:
        return await self._call("POST", f"/_sim/shops/{domain}/uninstall")

    async def change_scopes(self, domain: str, scope: str) -> JSON:
        """The merchant grants the app `scope` from now on (emits app/scopes_update)."""
        return await self._call("POST", f"/_sim/shops/{domain}/scopes", {"scope": scope})

    async def compliance(self, domain: str, topic: str, **body: Any) -> JSON:
        return await self._call(
            "POST", f"/_sim/shops/{domain}/compliance", {"topic": topic, **body}
        )

    async def set_faults(self, domain: str, **faults: Any) -> JSON:
        """e.g. `fail_next=1`, or `drop_response_next=1, drop_response_operation="returnProcess"`
        (execute the next such request in full, then answer 502 with an empty body)."""
        return await self._call("PUT", f"/_sim/shops/{domain}/faults", faults)

    async def drop_next_responses(
        self, domain: str, count: int = 1, *, operation: str | None = None
    ) -> JSON:
        """The next `count` Admin GraphQL requests (only those whose query contains `operation`,
        when given) are applied, then their answers are lost (502, empty body)."""
        return await self.set_faults(
            domain, drop_response_next=count, drop_response_operation=operation
        )

    async def reset_faults(self, domain: str) -> JSON:
        return await self._call("DELETE", f"/_sim/shops/{domain}/faults")

    async def set_webhook_faults(self, domain: str, **body: Any) -> JSON:
        return await self._call("PUT", f"/_sim/shops/{domain}/webhook-faults", body)

    async def expire_tokens(self, domain: str, in_seconds: float = 0) -> JSON:
        return await self._call(
            "POST", f"/_sim/shops/{domain}/tokens/expire", {"in_seconds": in_seconds}
        )

    async def deliveries(self, domain: str) -> JSON:
        return await self._call("GET", f"/_sim/shops/{domain}/deliveries")

    async def settle(self, domain: str, *, timeout: float = 10.0, release: bool = False) -> JSON:
        return await self._call(
            "POST",
            f"/_sim/shops/{domain}/deliveries/settle",
            timeout=timeout,
            release=str(release).lower(),
        )

    async def release_held(self, domain: str) -> JSON:
        return await self._call("POST", f"/_sim/shops/{domain}/deliveries/release")

    async def graphql(
        self,
        shop: InstalledShop,
        query: str,
        variables: JSON | None = None,
        *,
        token: str | None = None,
        api_version: str = "2026-10",
    ) -> httpx.Response:
        """A raw Admin GraphQL POST (no retries): for tests of the simulator itself."""
        return await self.http.post(
            shop.graphql_url(api_version),
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token if token is not None else shop.access_token},
        )
