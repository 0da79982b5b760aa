"""The storefront returns portal in headless Chromium, against the real app and the simulator.

A guest (order number + email, `/portal/{shop}`) and a customer signed in to the storefront (the
simulator's app proxy, `http://{shop}:{port}/apps/returns`) each return an item from the first
step to the confirmation and the status page, at phone (375x812) and desktop (1280x800) sizes.
Every walk runs twice: once under the page's Content-Security-Policy, recording violations, other
origins, script errors and a screenshot of each step (`tests/browser/artifacts/portal/`, or
`$PORTAL_ARTIFACTS_DIR`); once in a context that bypasses the CSP so that axe-core can be
injected, checking every step for `serious` or `critical` accessibility violations.

Uses the Debian `chromium` package through Playwright (no `playwright install`) and axe-core
from `tools/axe` (installed by scripts/setup). Skipped only when Chromium is absent outside CI;
in CI (`CI` set) it must run.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from app.clock import utcnow
from app.config import Settings
from app.main import create_app
from tests.browser.chromium import BROWSER_TEST, CHROMIUM, RECORD_CSP_VIOLATIONS
from tests.browser.chromium import CHROMIUM_ARGS as CHROMIUM_FLAGS
from tests.conftest import make_settings
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tests.webhooks.served_app import connect_tenant, eventually, raw_database
from tools.axe import ensure_axe
from tools.shopify_sim import SimulatorControl, SimulatorServer, ThreadedASGIServer

try:
    from playwright.async_api import (
        Browser,
        BrowserContext,
        Locator,
        Page,
        Response,
        Route,
        async_playwright,
        expect,
    )
except ImportError:  # pragma: no cover - reported by the fixture below
    async_playwright = None  # type: ignore[assignment]

CHROMIUM_ARGS = [
    *CHROMIUM_FLAGS,
    # The shops' storefronts (`http://{shop}.myshopify.com:{port}`) are the simulator's.
    "--host-resolver-rules=MAP *.myshopify.com 127.0.0.1",
]
ARTIFACTS = Path(
    os.environ.get("PORTAL_ARTIFACTS_DIR")
    or Path(__file__).resolve().parent / "artifacts" / "portal"
)
VIEWPORTS = {"phone": (375, 812), "desktop": (1280, 800)}
# Shown back to the customer and stored: it must stay text, never become markup.
NOTE = 'Strap tore on day one <script>alert(1)</script> & "more"'
# Each guest walk tries it once: 5 failed lookups from 127.0.0.1, under the portal's limit of 10.
WRONG_EMAIL = "not-the-buyer@example.com"
CUSTOMER_EMAIL = "signed-in.shopper@example.com"
# WCAG 2.2 AA, which the portal promises, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = ("serious", "critical")
# The steps of a return after the order is found, each screenshot or checked by axe.
RETURN_STEPS = ["items", "reasons", "resolution", "method", "review", "confirmation", "status"]

pytestmark = BROWSER_TEST

# The serious and critical violations of WCAG 2.2 AA and best practices in `include`, short.
AXE_RUN = """async ([include, tags, impacts]) => {
  const results = await axe.run(include ? {include: [include]} : document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations
    .filter((violation) => impacts.includes(violation.impact))
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({target: node.target, summary: node.failureSummary})),
    }));
}"""
RESYNC = """
mutation { resyncShopify(input: {type: FULL, days: 30}) { job { id } userErrors { code message } } }
"""
UPDATE_POLICY = """
mutation Policy($input: UpdateReturnPolicyInput!) {
  updateReturnPolicy(input: $input) { userErrors { field code message } }
}
"""
MERCHANT_RETURN = """
query Return($id: ID!) {
  return(id: $id) { id orderNumber status resolutionType returnMethod exchangeVariantId
    items { quantity reason note photoCount } }
}
"""


@dataclass(frozen=True)
class ShopOrder:
    gid: str
    number: str  # "1001", what a customer types and the page's `order-<number>` names
    email: str


@dataclass(frozen=True)
class PortalShop:
    """A simulator shop with the app installed, its orders synced, and the app served."""

    domain: str
    app_url: str
    storefront: str  # the shop's storefront origin, served by the simulator
    api_key: str
    orders: dict[str, ShopOrder]  # by walk: "guest-phone", "customer-desktop-axe", ...
    customer_id: str  # who placed the `customer-*` orders (numeric, as Shopify signs it)

    @property
    def merchant(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def _free_port() -> int:
    """A free loopback port, so that APP_URL can name the app before it is served."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _variants(simulator: SimulatorServer, domain: str) -> tuple[list[str], str]:
    """Two returnable variant GIDs of the shop's products and one sold as final sale (read
    in-process, as tests/returns/builders.py does)."""
    products = simulator.app.state.sim.shops[domain].products
    returnable = [
        str(variant["id"])
        for product in products
        if "final-sale" not in product["tags"]
        for variant in product["_variants"]
    ]
    final_sale = [
        str(variant["id"])
        for product in products
        if "final-sale" in product["tags"]
        for variant in product["_variants"]
    ]
    assert len(returnable) >= 2 and final_sale, "the seeded catalogue changed"
    return returnable[:2], final_sale[0]


async def _merchant_graphql(
    http: httpx.AsyncClient, app_url: str, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = await http.post(
        f"{app_url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _api_key(database: Any, tenant_id: str) -> str:
    """A merchant API key, written raw in the shape `issue_api_key` stores (the app's models
    are bound to the served app's event loop, not this one)."""
    key_id = "rk_" + secrets.token_hex(6)
    key = f"{key_id}_{secrets.token_urlsafe(32)}"
    await database["api_keys"].insert_one(
        {
            "tenant_id": tenant_id,
            "key_id": key_id,
            "key_hash": hashlib.sha256(key.encode()).hexdigest(),
            "name": "portal browser test",
            "created_at": utcnow(),
            "revoked_at": None,
            "last_used_at": None,
        }
    )
    return key


@asynccontextmanager
async def _served(settings: Settings, port: int) -> AsyncIterator[ThreadedASGIServer]:
    """`served_app` (tests/webhooks/served_app.py) on a port chosen beforehand for APP_URL."""
    server = ThreadedASGIServer(create_app(settings, configure_logs=False), port=port)
    await server.astart()
    try:
        yield server
    finally:
        await server.astop()


@pytest.fixture(scope="module")
async def portal_shop(mongo_uri: str, simulator: SimulatorServer) -> AsyncIterator[PortalShop]:
    """One shop for the module: an order per walk (two returnable lines of two units and a
    final-sale line), the app served against the simulator with its background jobs (the sync),
    a policy offering both resolutions (store credit with a bonus) and three methods."""
    async with httpx.AsyncClient(trust_env=False, timeout=20.0) as http:
        control = SimulatorControl(http, simulator.base_url, SIM_API_KEY, SIM_API_SECRET)
        shop = await control.create_shop(orders=0)
        returnable, final_sale = _variants(simulator, shop.domain)
        lines = [
            {"variant_id": returnable[0], "quantity": 2},
            {"variant_id": returnable[1], "quantity": 1},
            {"variant_id": final_sale, "quantity": 1},
        ]
        orders: dict[str, ShopOrder] = {}
        walks = [f"{flow}-{size}" for flow in ("guest", "customer") for size in VIEWPORTS]
        for walk in [*walks, *(f"{walk}-axe" for walk in walks), "guest-keyboard"]:
            email = CUSTOMER_EMAIL if walk.startswith("customer") else f"{walk}@example.com"
            created = await control.create_order(
                shop.domain,
                email=email,
                line_items=lines,
                fulfilled=True,
                financial_status="PAID",
                tags=[],
            )
            gid, name = str(created["order"]["id"]), str(created["order"]["name"])
            orders[walk] = ShopOrder(gid, name.lstrip("#"), email)
        customer_id = await control.customer_id_for_order(shop.domain, orders["customer-phone"].gid)

        port = _free_port()
        app_url = f"http://127.0.0.1:{port}"
        settings = make_settings(
            mongo_uri,
            shopify_api_key=SIM_API_KEY,
            shopify_api_secret=SIM_API_SECRET,
            shopify_admin_base_url=simulator.admin_base_template,
            app_url=app_url,
            run_background_jobs=True,
        )
        async with raw_database(settings) as database, _served(settings, port):
            tenant_id = await connect_tenant(database, settings, shop)
            api_key = await _api_key(database, tenant_id)
            merchant = {"Authorization": f"Bearer {api_key}"}
            policy = await _merchant_graphql(
                http,
                app_url,
                merchant,
                UPDATE_POLICY,
                input={
                    "allowedResolutions": ["REFUND", "STORE_CREDIT", "EXCHANGE"],
                    "allowedMethods": ["CUSTOMER_SHIPS", "PREPAID_LABEL", "DROP_OFF"],
                    "storeCreditBonusPercent": "10",
                },
            )
            assert policy["updateReturnPolicy"]["userErrors"] == [], policy
            resync = await _merchant_graphql(http, app_url, merchant, RESYNC)
            assert resync["resyncShopify"]["userErrors"] == [], resync

            async def synced() -> bool:
                count: int = await database["orders"].count_documents({"tenant_id": tenant_id})
                return count >= len(orders)

            await eventually(synced, timeout=60, interval=0.1)
            await control.set_app_proxy(f"{app_url}/portal/proxy")
            sim_port = urlsplit(simulator.base_url).port
            try:
                yield PortalShop(
                    domain=shop.domain,
                    app_url=app_url,
                    storefront=f"http://{shop.domain}:{sim_port}",
                    api_key=api_key,
                    orders=orders,
                    customer_id=customer_id,
                )
            finally:
                await control.clear_app_proxy()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if async_playwright is None:
        pytest.fail("Playwright is missing: pip install 'playwright==1.65.*'")
    ensure_axe()  # before the browser: a missing npm fails here, with its own message
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Walk:
    """One walk through the portal in its own browser context, and what it saw besides.

    `axe` False: the page's CSP applies; violations, requests to any other origin, script and
    console errors and dialogs (an injected `alert`) are recorded, and each step is captured.
    `axe` True: the context bypasses the CSP so axe-core can be injected; each step is checked.
    """

    page: Page
    origin: str
    name: str
    axe: bool
    axe_scope: str | None
    foreign_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    accessibility: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # the steps seen, in order
    shots: int = 0

    async def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            await route.continue_()
        else:
            self.foreign_requests.append(url)
            await route.abort()

    async def at(self, step: str, label: str | None = None, *, ready: str | None = None) -> Locator:
        """Wait for the step (and for `ready` in it: a step may first show "Loading"), then
        screenshot it or check it with axe."""
        section = self.page.locator(f'[data-step="{step}"]')
        await expect(section).to_be_visible()
        if ready is not None:
            await expect(section.locator(ready).first).to_be_visible()
        label = label or step
        self.checked.append(label)
        if self.axe:
            await self.check_accessibility(label)
        else:
            self.shots += 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
            await self.page.screenshot(path=path, full_page=True)
        return section

    async def check_accessibility(self, label: str) -> None:
        if not await self.page.evaluate("typeof window.axe === 'object'"):
            await self.page.add_script_tag(path=ensure_axe())
        found: list[dict[str, Any]] = await self.page.evaluate(
            AXE_RUN, [self.axe_scope, AXE_TAGS, list(FAILING_IMPACTS)]
        )
        for violation in found:
            nodes = "\n".join(
                f"      {node['target']}: {node['summary']}" for node in violation["nodes"]
            )
            self.accessibility.append(
                f"[{label}] {violation['impact']} {violation['id']}: {violation['help']}\n{nodes}"
            )

    async def assert_clean(self) -> None:
        """Call before leaving a document: the CSP record lives in the document."""
        assert self.foreign_requests == [], "requested another origin"
        assert self.page_errors == []
        assert self.console_errors == []
        assert self.dialogs == [], "a dialog opened: markup or script was injected"
        # Idle, the portal must not say it is busy: assistive technologies may wait it out.
        busy = await self.page.locator("#portal").get_attribute("aria-busy")
        assert busy != "true", "#portal keeps aria-busy=true once loaded"
        if not self.axe:
            assert await self.page.evaluate("window.__cspViolations") == []
        assert not self.accessibility, "axe-core found serious or critical violations:\n" + (
            "\n".join(self.accessibility)
        )


@asynccontextmanager
async def walk(
    browser: Browser,
    origin: str,
    name: str,
    viewport: tuple[int, int],
    *,
    axe: bool,
    axe_scope: str | None = None,
) -> AsyncIterator[Walk]:
    width, height = viewport
    context: BrowserContext = await browser.new_context(
        viewport={"width": width, "height": height}, bypass_csp=axe, locale="en-US"
    )
    try:
        page = await context.new_page()
        page.set_default_timeout(10_000)
        watch = Walk(page, origin, name + ("-axe" if axe else ""), axe, axe_scope)
        await context.route("**/*", watch.route)
        page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                watch.console_errors.append(message.text) if message.type == "error" else None
            ),
        )

        async def dismiss(dialog: Any) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", dismiss)
        if not axe:
            await context.add_init_script(RECORD_CSP_VIOLATIONS)
        yield watch
    finally:
        await context.close()


async def _visible(page: Page, testid: str) -> Locator:
    """The visible element with this `data-testid` (steps may keep earlier ones hidden)."""
    found = page.locator(f'[data-testid="{testid}"]:visible')
    await expect(found).to_have_count(1)
    return found


async def _next(page: Page) -> None:
    await (await _visible(page, "next")).click()


async def _submit_lookup(page: Page, order: ShopOrder, email: str) -> None:
    form = await _visible(page, "lookup-form")
    await form.locator('input[name="orderNumber"]').fill(order.number)
    await form.locator('input[name="email"]').fill(email)
    await form.locator('[type="submit"]').click()


def _is_create(response: Response) -> bool:
    request = response.request
    return request.method == "POST" and "createReturn" in (request.post_data or "")


def _photo(tmp: Path) -> Path:
    """A phone photo of the damage, as the customer picks it from their files."""
    path = tmp / "damage.png"
    image = Image.new("RGB", (1200, 900), (180, 40, 40))
    image.save(path, format="PNG")
    return path


async def return_one_item(
    watch: Walk,
    choose_order: Callable[[], Awaitable[None]],
    photo: Path,
    *,
    exchange: bool = False,
) -> dict[str, Any]:
    """From the items step to the status page: one unit of the first returnable line, damaged
    (with a photo), for store credit or an exchange from what is in stock, dropped off.
    Returns the `createReturn` payload the page received."""
    page = watch.page
    await choose_order()

    items = await watch.at("items")
    boxes = items.locator('[data-testid^="item-"]')
    await expect(boxes).to_have_count(3)
    # The final-sale line is listed, but cannot be chosen.
    await expect(items.locator('[data-testid^="item-"]:disabled')).to_have_count(1)
    box = items.locator('[data-testid^="item-"]:enabled').first
    line_id = str(await box.get_attribute("data-testid")).removeprefix("item-")
    await box.check()
    quantity = await _visible(page, f"quantity-{line_id}")
    if await quantity.evaluate("(element) => element.tagName") == "SELECT":
        await quantity.select_option("1")
    else:
        await quantity.fill("1")
    await _next(page)

    await watch.at("reasons")
    await (await _visible(page, f"reason-{line_id}")).select_option("DEFECTIVE")
    await (await _visible(page, f"note-{line_id}")).fill(NOTE)
    # Damaged: a photo, scaled and re-encoded by the page, uploaded before the request.
    async with page.expect_response(lambda r: r.url.split("?")[0].endswith("/photos")) as sent:
        await (await _visible(page, f"photos-{line_id}")).set_input_files(str(photo))
    assert (await sent.value).status == 201
    await expect(page.locator(f'[data-testid="photo-preview-{line_id}-1"]')).to_be_visible()
    await _next(page)

    resolution = await watch.at("resolution")
    await expect(resolution).to_contain_text("10%")  # the policy's store-credit bonus
    if exchange:
        await (await _visible(page, "resolution-EXCHANGE")).check()
        # The variants of the same product, from the shop's stock: one of those in stock.
        in_stock = resolution.locator('input[data-testid^="exchange-"]:enabled')
        await expect(in_stock.first).to_be_visible()
        await in_stock.first.check()
    else:
        await (await _visible(page, "resolution-STORE_CREDIT")).check()
    await _next(page)

    await watch.at("method")
    await (await _visible(page, "method-DROP_OFF")).check()
    await _next(page)

    review = await watch.at("review")
    # The note comes back as the customer typed it: text, with its angle brackets.
    await expect(review).to_contain_text(NOTE)
    async with page.expect_response(_is_create) as answered:
        await (await _visible(page, "submit")).click()
    answer = await (await answered.value).json()
    payload: dict[str, Any] = answer["data"]["createReturn"]
    assert payload["userErrors"] == [], answer

    await watch.at("confirmation")
    reference = await _visible(page, "reference")
    await expect(reference).to_have_text(payload["return"]["reference"])
    await watch.assert_clean()

    await (await _visible(page, "status-link")).click()
    status = await watch.at("status", ready='[data-testid="timeline"] li')
    await expect(status).to_contain_text(payload["return"]["reference"])
    await watch.assert_clean()
    return payload


async def _assert_stored(
    shop: PortalShop, payload: dict[str, Any], order: ShopOrder, *, exchange: bool = False
) -> None:
    """The merchant's API sees the return, the note stored exactly as typed, its photo."""
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        data = await _merchant_graphql(
            http, shop.app_url, shop.merchant, MERCHANT_RETURN, id=payload["return"]["id"]
        )
    stored = data["return"]
    assert stored is not None, data
    assert stored["orderNumber"] == order.number
    assert (stored["status"], stored["resolutionType"], stored["returnMethod"]) == (
        "REQUESTED",
        "EXCHANGE" if exchange else "STORE_CREDIT",
        "DROP_OFF",
    )
    assert (stored["exchangeVariantId"] is not None) == exchange
    assert stored["items"] == [
        {"quantity": 1, "reason": "DEFECTIVE", "note": NOTE, "photoCount": 1}
    ]


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("axe", [False, True], ids=["csp", "axe"])
async def test_a_guest_returns_an_item(
    browser: Browser, portal_shop: PortalShop, size: str, axe: bool, tmp_path: Path
) -> None:
    name = f"guest-{size}"
    order = portal_shop.orders[name + ("-axe" if axe else "")]
    async with walk(browser, portal_shop.app_url, name, VIEWPORTS[size], axe=axe) as watch:
        page = watch.page

        async def look_up() -> None:
            await page.goto(f"{portal_shop.app_url}/portal/{portal_shop.domain}")
            await watch.at("find")
            await _submit_lookup(page, order, WRONG_EMAIL)
            summary = await _visible(page, "error-summary")
            await expect(summary).to_contain_text(await _message(page, "error.notFound"))
            await watch.at("find", "find-not-found")
            await _submit_lookup(page, order, order.email)

        payload = await return_one_item(watch, look_up, _photo(tmp_path))
    assert watch.checked == ["find", "find-not-found", *RETURN_STEPS]
    await _assert_stored(portal_shop, payload, order)


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("axe", [False, True], ids=["csp", "axe"])
async def test_a_signed_in_customer_returns_through_the_app_proxy(
    browser: Browser, portal_shop: PortalShop, size: str, axe: bool, tmp_path: Path
) -> None:
    name = f"customer-{size}"
    order = portal_shop.orders[name + ("-axe" if axe else "")]
    storefront = portal_shop.storefront
    # Inside the shop's theme, the portal answers for its own part of the page.
    async with walk(
        browser, storefront, name, VIEWPORTS[size], axe=axe, axe_scope="#portal"
    ) as watch:
        page = watch.page

        async def pick_from_the_list() -> None:
            await page.goto(f"{storefront}/account/login?customer_id={portal_shop.customer_id}")
            await page.goto(f"{storefront}/apps/returns")
            find = await watch.at("find", ready='[data-testid^="order-"]')
            # Signed in: the customer's orders, nothing to type.
            await expect(find.locator('input[name="email"]')).to_have_count(0)
            others = [o for key, o in portal_shop.orders.items() if key.startswith("customer")]
            for other in others:
                await expect(find.locator(f'[data-testid="order-{other.number}"]')).to_be_visible()
            await (await _visible(page, f"order-{order.number}")).click()

        payload = await return_one_item(watch, pick_from_the_list, _photo(tmp_path), exchange=True)
    assert watch.checked == ["find", *RETURN_STEPS]
    assert urlsplit(page.url).path.startswith("/apps/returns/returns/")
    await _assert_stored(portal_shop, payload, order, exchange=True)


async def test_the_lookup_works_from_the_keyboard(
    browser: Browser, portal_shop: PortalShop
) -> None:
    order = portal_shop.orders["guest-keyboard"]
    url = f"{portal_shop.app_url}/portal/{portal_shop.domain}"
    async with walk(
        browser, portal_shop.app_url, "guest-keyboard", VIEWPORTS["desktop"], axe=False
    ) as watch:
        page = watch.page
        await page.goto(url)
        await watch.at("find")
        for _ in range(30):
            await page.keyboard.press("Tab")
            if await _focused_name(page) == "orderNumber":
                break
        else:
            pytest.fail("Tab never reached the order number field")
        await page.keyboard.type(order.number)
        await page.keyboard.press("Tab")
        assert await _focused_name(page) == "email"
        await page.keyboard.type(WRONG_EMAIL)
        await page.keyboard.press("Enter")
        summary = await _visible(page, "error-summary")
        await expect(summary).to_contain_text(await _message(page, "error.notFound"))
        # The error takes the focus, so it is read out at once.
        await expect(summary).to_be_focused()
        await watch.at("find", "find-not-found")

        # Back to the field, still without a mouse, and correct it.
        for _ in range(30):
            await page.keyboard.press("Tab")
            if await _focused_name(page) == "email":
                break
        else:
            pytest.fail("Tab never reached the email field again")
        await page.keyboard.press("ControlOrMeta+a")
        await page.keyboard.type(order.email)
        await page.keyboard.press("Enter")
        items = await watch.at("items")
        # The new step's heading takes the focus, so a screen reader announces it.
        heading = items.locator("h2")
        await expect(heading).to_be_focused()
        await watch.assert_clean()


async def _focused_name(page: Page) -> str | None:
    name: str | None = await page.evaluate("document.activeElement?.getAttribute('name') ?? null")
    return name


async def _message(page: Page, key: str) -> str:
    """A catalog text as the page got it (`portal-config`), placeholders left out."""
    config = json.loads(await page.locator("#portal-config").text_content() or "{}")
    text = str(config["messages"][key])
    return text.split("{", 1)[0].strip()


async def test_the_accessibility_check_reports_violations(browser: Browser) -> None:
    # Guards the guard: the injected axe-core reports what the walks must never show.
    async with walk(browser, "http://127.0.0.1:9", "guard", VIEWPORTS["phone"], axe=True) as watch:
        await watch.page.set_content(
            '<main><h1>Guard</h1><input type="text">'
            '<p style="color: #bbb; background: #fff">faint text</p></main>'
        )
        await watch.check_accessibility("guard")
    found = "\n".join(watch.accessibility)
    assert "critical label:" in found
    assert "serious color-contrast:" in found
