"""The self-hosted GraphiQL page: local assets only, a strict CSP, a clear 503 without assets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import strawberry
from fastapi import FastAPI
from graphql import parse

from app.graphql.graphiql import (
    EXAMPLE_TABS,
    VENDOR_SCRIPTS,
    VENDOR_STYLES,
    GraphiQLOptions,
    LocalGraphiQLRouter,
    example_tab_errors,
    mount_graphiql,
    page_hosts,
)
from app.security_headers import SecurityHeadersMiddleware

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
TOKEN_HEADERS = {"Authorization": "Bearer rms_test_token"}


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


SCHEMA = strawberry.Schema(query=Query)


def fake_assets(directory: Path) -> Path:
    """A vendor directory shaped like the installed one, without running npm."""
    assets = directory / "graphiql"
    assets.mkdir(parents=True)
    for name in (*VENDOR_SCRIPTS, *VENDOR_STYLES):
        (assets / name).write_text(f"/* {name} */\n")
    (assets / "manifest.json").write_text(json.dumps({"lock_sha256": "ab" * 32}))
    return assets


def build_app(options: GraphiQLOptions, *, graphql_ide: str | None = "graphiql") -> FastAPI:
    app = FastAPI()
    router: LocalGraphiQLRouter = LocalGraphiQLRouter(
        SCHEMA, graphql_ide=graphql_ide, graphiql_options=options
    )
    app.include_router(router, prefix="/graphql")
    mount_graphiql(app, options=options)
    app.add_middleware(SecurityHeadersMiddleware, hsts=True)
    return app


async def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def options(tmp_path: Path) -> GraphiQLOptions:
    return GraphiQLOptions(default_headers=TOKEN_HEADERS, assets_dir=fake_assets(tmp_path))


@pytest.fixture
async def http(options: GraphiQLOptions) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(build_app(options)) as client:
        yield client


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.config_text = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "action", "poster", "data"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))
        if tag == "script":
            self.scripts.append(attributes)
            self._in_config = attributes.get("id") == "graphiql-config"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data


def parse_page(text: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(text)
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = sources
    return directives


async def test_browsers_get_the_graphiql_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="graphiql">' in response.text


async def test_csp_allows_no_third_party_origin(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers=HTML)

    directives = csp_directives(response.headers["content-security-policy"])
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for name, sources in directives.items():
        for source in sources:
            assert source in {"'self'", "'none'", "data:", "'unsafe-inline'"}, f"{name}: {source}"
    unsafe = [name for name, sources in directives.items() if "'unsafe-inline'" in sources]
    assert unsafe == ["style-src"]  # menus inject a <style>; scripts never run inline


async def test_page_references_only_local_assets(http: httpx.AsyncClient) -> None:
    page = (await http.get("/graphql", headers=HTML)).text

    urls = parse_page(page).urls
    assert "://" not in page
    assert urls
    local = [url for url in urls if url != "data:,"]  # the empty favicon
    assert all(url.startswith("/") and not url.startswith("//") for url in local), urls
    for url in local:
        assert (await http.get(url)).status_code == 200, url


async def test_page_has_no_inline_script(http: httpx.AsyncClient) -> None:
    page = parse_page((await http.get("/graphql", headers=HTML)).text)

    inline = [s for s in page.scripts if not s.get("src") and s.get("type") != "application/json"]
    assert inline == []
    assert any(str(s.get("src", "")).startswith("/graphql/static/init.js") for s in page.scripts)


async def test_missing_assets_answer_503_naming_the_setup_step(tmp_path: Path) -> None:
    options = GraphiQLOptions(assets_dir=tmp_path / "never-installed")
    async with await client_for(build_app(options)) as http:
        response = await http.get("/graphql", headers=HTML)
        vendor = await http.get("/graphql/static/graphiql/graphiql.min.js")

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "GraphiQL assets are not installed" in response.text
    assert "python -m tools.graphiql.build" in response.text
    assert "<script" not in response.text
    assert csp_directives(response.headers["content-security-policy"])["default-src"] == ["'none'"]
    assert vendor.status_code == 404


async def test_an_incomplete_install_counts_as_missing(options: GraphiQLOptions) -> None:
    (options.assets_dir / "graphiql.min.js").unlink()
    async with await client_for(build_app(options)) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 503


async def test_default_headers_fill_the_merchant_tabs(http: httpx.AsyncClient) -> None:
    config = json.loads(parse_page((await http.get("/graphql", headers=HTML)).text).config_text)

    merchant, portal, operations = (json.loads(tab["headers"]) for tab in config["tabs"])
    assert merchant == TOKEN_HEADERS
    assert operations == TOKEN_HEADERS
    assert portal == {"X-Tenant-Id": "tenant-rms34"}
    assert json.loads(config["defaultHeaders"]) == TOKEN_HEADERS
    assert config["endpoint"] == "/graphql"


async def test_headers_query_parameter_overrides_the_default(http: httpx.AsyncClient) -> None:
    override = {"Authorization": "Bearer from-the-url"}
    response = await http.get("/graphql", params={"headers": json.dumps(override)}, headers=HTML)

    config = json.loads(parse_page(response.text).config_text)
    assert json.loads(config["tabs"][0]["headers"]) == override


async def test_malformed_headers_parameter_falls_back_to_the_default(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/graphql", params={"headers": "[1, 2]"}, headers=HTML)

    config = json.loads(parse_page(response.text).config_text)
    assert json.loads(config["tabs"][0]["headers"]) == TOKEN_HEADERS


async def test_headers_parameter_cannot_break_out_of_the_config_block(
    http: httpx.AsyncClient,
) -> None:
    hostile = {"X-Test": "</script><script>alert(1)</script><!--"}
    response = await http.get("/graphql", params={"headers": json.dumps(hostile)}, headers=HTML)

    assert "</script><script>alert" not in response.text
    assert "<!--" not in response.text
    config = json.loads(parse_page(response.text).config_text)
    assert json.loads(config["tabs"][0]["headers"]) == hostile


async def test_without_configured_headers_the_merchant_tabs_show_where_the_token_goes(
    tmp_path: Path,
) -> None:
    options = GraphiQLOptions(assets_dir=fake_assets(tmp_path))
    async with await client_for(build_app(options)) as http:
        page = (await http.get("/graphql", headers=HTML)).text

    headers = json.loads(json.loads(parse_page(page).config_text)["tabs"][0]["headers"])
    assert headers["Authorization"].startswith("Bearer <")


async def test_page_is_never_cached(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers=HTML)

    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_example_tabs_cover_the_main_flows(http: httpx.AsyncClient) -> None:
    config = json.loads(parse_page((await http.get("/graphql", headers=HTML)).text).config_text)

    returns, portal, sync = (tab["query"] for tab in config["tabs"])
    assert "returns(first: 10)" in returns
    assert "approveReturn(id: $id)" in returns
    assert 'lookupOrder(orderNumber: "1001", customerEmail: "customer@example.com")' in portal
    assert "createReturn(input: $input)" in portal
    assert "resyncShopify(input: {type: FULL, days: 30})" in sync
    assert "syncJobs(first: 10)" in sync
    for tab in config["tabs"]:
        parse(tab["query"])
        if tab["variables"]:
            json.loads(tab["variables"])


def test_example_tab_check_reports_fields_the_schema_lacks() -> None:
    problems = example_tab_errors(SCHEMA._schema)

    assert len(EXAMPLE_TABS) == 3
    assert any("returns" in problem for problem in problems)


async def test_api_requests_still_execute(http: httpx.AsyncClient) -> None:
    posted = await http.post("/graphql", json={"query": "{ hello }"})
    got = await http.get(
        "/graphql", params={"query": "{ hello }"}, headers={"Accept": "application/json"}
    )

    assert posted.json() == {"data": {"hello": "world"}}
    assert got.json() == {"data": {"hello": "world"}}


async def test_no_page_when_the_ide_is_disabled(options: GraphiQLOptions) -> None:
    async with await client_for(build_app(options, graphql_ide=None)) as http:
        response = await http.get("/graphql", headers=HTML)

    assert response.status_code == 404


async def test_bootstrap_script_is_served_as_javascript(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql/static/init.js")

    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "ReactDOM.createRoot" in response.text


async def test_static_files_do_not_escape_their_directories(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql/static/..%2F..%2Fgraphiql.py")

    assert response.status_code == 404


async def test_portal_tab_uses_the_configured_tenant_and_customer(tmp_path: Path) -> None:
    options = GraphiQLOptions(
        assets_dir=fake_assets(tmp_path),
        portal_tenant_id="tenant-acme",
        portal_customer_email='jo"e@example.com',
    )
    async with await client_for(build_app(options)) as http:
        page = (await http.get("/graphql", headers=HTML)).text

    portal = json.loads(parse_page(page).config_text)["tabs"][1]
    assert json.loads(portal["headers"]) == {"X-Tenant-Id": "tenant-acme"}
    assert 'customerEmail: "jo\\"e@example.com"' in portal["query"]
    parse(portal["query"])
    assert json.loads(portal["variables"])["input"]["customerEmail"] == 'jo"e@example.com'


def test_every_example_tab_is_valid_against_the_real_schema() -> None:
    from app.graphql.schema import build_schema

    assert example_tab_errors(build_schema()._schema) == []


async def test_the_page_is_not_served_for_another_host_name(client: httpx.AsyncClient) -> None:
    # DNS rebinding: a page of attacker.example whose name now resolves to this server.
    response = await client.get(
        "/graphql", headers={"Accept": "text/html", "Host": "attacker.example"}
    )
    assert response.status_code == 421
    assert "Authorization" not in response.text and "<script" not in response.text
    ours = await client.get("/graphql", headers={"Accept": "text/html"})
    assert ours.status_code == 200 and "<script" in ours.text


def test_page_hosts_are_app_urls_and_loopback_in_development() -> None:
    assert page_hosts("https://returns.example.com") == frozenset({"returns.example.com"})
    assert page_hosts("http://127.0.0.1:8000") == frozenset({"127.0.0.1", "localhost", "::1"})
