"""GraphiQL in headless Chromium: it loads, and runs queries, without any other origin.

Uses the Debian `chromium` package through Playwright (no `playwright install`). Skipped only
when Chromium is absent outside CI; in CI (`CI` set) it must run.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import strawberry
import uvicorn
from fastapi import FastAPI, Request

from app.graphql.graphiql import GraphiQLOptions, LocalGraphiQLRouter, mount_graphiql
from app.graphql.persisted_queries import PersistedQueryStore
from app.security_headers import SecurityHeadersMiddleware
from tests.browser.chromium import BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS, RECORD_CSP_VIOLATIONS
from tools.graphiql import ensure_graphiql_assets

try:
    from playwright.async_api import Browser, Page, Route, async_playwright, expect
except ImportError:  # pragma: no cover - reported by the fixture below
    async_playwright = None  # type: ignore[assignment]

DEFAULT_TOKEN = "Bearer dev-token-from-settings"

pytestmark = BROWSER_TEST


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def authorization(self, info: strawberry.Info) -> str | None:
        request: Request = info.context["request"]
        return request.headers.get("authorization")

    @strawberry.field
    def tenant(self, info: strawberry.Info) -> str | None:
        request: Request = info.context["request"]
        return request.headers.get("x-tenant-id")


def build_app() -> FastAPI:
    options = GraphiQLOptions(default_headers={"Authorization": DEFAULT_TOKEN})
    app = FastAPI()
    router: LocalGraphiQLRouter = LocalGraphiQLRouter(
        strawberry.Schema(query=Query),
        graphiql_options=options,
        persisted_queries=PersistedQueryStore(),
    )
    app.include_router(router, prefix="/graphql")
    mount_graphiql(app, options=options)
    app.add_middleware(SecurityHeadersMiddleware, hsts=True)
    return app


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a background thread."""
    ensure_graphiql_assets()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if async_playwright is None:
        pytest.fail("Playwright is missing: pip install 'playwright==1.65.*'")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageWatch:
    """What a page did besides rendering: foreign requests, script errors, console errors."""

    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    async def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            await route.continue_()
        else:
            self.foreign_requests.append(url)
            await route.abort()


async def open_graphiql(
    browser: Browser, origin: str, path: str = "/graphql"
) -> tuple[Page, PageWatch]:
    page = await browser.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch(origin)
    await page.route("**/*", watch.route)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            watch.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    await page.add_init_script(RECORD_CSP_VIOLATIONS)
    await page.goto(origin + path)
    await page.locator(".graphiql-container").wait_for()
    return page, watch


async def assert_clean(page: Page, watch: PageWatch) -> None:
    assert watch.foreign_requests == [], "requested another origin"
    assert await page.evaluate("window.__cspViolations") == []
    assert watch.page_errors == []
    assert watch.console_errors == []


async def test_graphiql_runs_a_query_with_typed_headers(browser: Browser, origin: str) -> None:
    page, watch = await open_graphiql(browser, origin)

    tabs = page.locator(".graphiql-tab")
    await expect(tabs).to_have_count(3)
    await expect(tabs).to_contain_text(["ListReturns", "LookupOrder", "ResyncShopify"])
    headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
    await expect(headers_editor).to_contain_text(DEFAULT_TOKEN)

    await page.evaluate(
        """() => document.querySelector(".graphiql-query-editor .CodeMirror")
                   .CodeMirror.setValue("query Echo { hello authorization tenant }")"""
    )
    await headers_editor.locator(".CodeMirror").click()
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.press("Delete")
    await page.keyboard.type(
        '{"Authorization": "Bearer typed-token", "X-Tenant-Id": "tenant-rms34"}'
    )
    typed = await page.evaluate(
        """() => document.querySelector(".graphiql-editor-tool .graphiql-editor:not(.hidden)"
                   + " .CodeMirror").CodeMirror.getValue()"""
    )
    assert json.loads(typed) == {
        "Authorization": "Bearer typed-token",
        "X-Tenant-Id": "tenant-rms34",
    }
    await page.locator(".graphiql-execute-button").click()

    result = page.locator(".result-window")
    await expect(result).to_contain_text('"hello": "world"')
    await expect(result).to_contain_text('"authorization": "Bearer typed-token"')
    await expect(result).to_contain_text('"tenant": "tenant-rms34"')
    await assert_clean(page, watch)


async def test_headers_link_prefills_the_headers_pane(browser: Browser, origin: str) -> None:
    override = json.dumps({"Authorization": "Bearer from-the-link"})
    page, watch = await open_graphiql(browser, origin, f"/graphql?headers={override}")

    headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
    await expect(headers_editor).to_contain_text("Bearer from-the-link")
    await page.locator(".graphiql-execute-button").click()
    # The tab holds two operations: GraphiQL asks which one to run.
    await page.get_by_role("menuitem", name="ListReturns").click()
    # The example needs the real schema, so the toy one answers with validation errors.
    await expect(page.locator(".result-window")).to_contain_text("Cannot query field")
    await assert_clean(page, watch)


async def test_docs_and_settings_work_under_the_csp(browser: Browser, origin: str) -> None:
    page, watch = await open_graphiql(browser, origin)

    await page.get_by_label("Show Documentation Explorer").click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Root Types")
    await page.get_by_label("Open settings dialog").click()
    await expect(page.get_by_role("dialog")).to_contain_text("Settings")
    await page.keyboard.press("Escape")
    await assert_clean(page, watch)


async def test_the_origin_guard_catches_foreign_requests(browser: Browser, origin: str) -> None:
    # Guards the guard: a page without our CSP asking another origin is recorded and aborted.
    page = await browser.new_page()
    watch = PageWatch(origin)
    await page.route("**/*", watch.route)
    async with page.expect_event("requestfailed"):
        await page.set_content('<img src="https://cdn.example.invalid/react.js" alt="">')

    assert watch.foreign_requests == ["https://cdn.example.invalid/react.js"]
