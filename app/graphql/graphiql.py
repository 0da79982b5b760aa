"""GraphiQL served by the service itself: no CDN, so it works air-gapped and under a strict CSP.

The vendor files (React 18 UMD + GraphiQL 3 UMD, pinned in `tools/graphiql/package-lock.json`)
are installed into `static/graphiql/` by `python -m tools.graphiql.build`; our own bootstrap
(`graphiql_static/init.js`) is committed. The page carries no inline script (its configuration
is a JSON data block read by init.js), so its CSP allows scripts from this origin only.

`LocalGraphiQLRouter` is a Strawberry `GraphQLRouter` that renders this page for browsers and
resolves automatic persisted queries; `mount_graphiql` serves the static files.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cross_web import AsyncHTTPRequestAdapter
from fastapi import FastAPI
from graphql import GraphQLError, GraphQLSchema, parse, validate
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from typing_extensions import TypeVar

from app.graphql.persisted_queries import (
    PERSISTED_QUERY_NOT_FOUND,
    PersistedQueryError,
    PersistedQueryStore,
    registered_hash,
)

_log = logging.getLogger(__name__)
PACKAGE_DIR: Final = Path(__file__).resolve().parent
ASSETS_DIR: Final = PACKAGE_DIR / "static" / "graphiql"
IDE_STATIC_DIR: Final = PACKAGE_DIR / "graphiql_static"
MANIFEST_NAME: Final = "manifest.json"
SETUP_COMMAND: Final = "python -m tools.graphiql.build"

# Load order matters: React, then ReactDOM, then GraphiQL (which reads both as globals).
VENDOR_SCRIPTS: Final = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
)
VENDOR_STYLES: Final = ("graphiql.min.css",)

# Scripts come from this origin only. Fonts and a few icons in graphiql.min.css are data: URLs.
# Styles also allow inline: the menus and dialogs (react-remove-scroll-bar) inject a <style>
# element with a computed scrollbar width, and the UMD bundle offers no way to give it a nonce.
GRAPHIQL_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": GRAPHIQL_CSP,
    # The page can embed a bearer token (the default headers), so nothing may keep or leak it.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_MISSING_ASSETS_CSP: Final = "default-src 'none'; frame-ancestors 'none'"

CUSTOMER_EMAIL: Final = "{customer_email}"  # placeholder in EXAMPLE_TABS, from the options
MERCHANT_HEADERS_PLACEHOLDER: Final = {
    "Authorization": "Bearer <token printed by the run command, or from rms tenants create-key>"
}


@dataclass(frozen=True, slots=True)
class ExampleTab:
    """One tab GraphiQL opens with. `audience` picks its headers: merchant or portal."""

    query: str
    variables: Mapping[str, Any] | None = None
    audience: str = "merchant"


EXAMPLE_TABS: Final = (
    ExampleTab(
        query="""\
# Merchant: review returns, then approve one.
# Needs the merchant Authorization header.
# Run ListReturns, put an id into Variables,
# then run ApproveReturn.
query ListReturns {
  returns(first: 10) {
    nodes {
      id
      status
      orderNumber
      customerEmail
    }
  }
}

mutation ApproveReturn($id: ID!) {
  approveReturn(id: $id) {
    return {
      id
      status
    }
    userErrors {
      field
      code
      message
    }
  }
}
""",
        variables={"id": "<id of a return from ListReturns>"},
    ),
    ExampleTab(
        query="""\
# Customer portal: public, scoped by the
# X-Tenant-Id header (no Authorization).
# The order number goes with the order's email.
query LookupOrder {
  lookupOrder(orderNumber: "1001", customerEmail: "{customer_email}") {
    id
    name
    orderNumber
    lineItems {
      id
      title
      quantity
    }
  }
}

mutation CreateReturn($input: CreateReturnInput!) {
  createReturn(input: $input) {
    return {
      id
      status
      orderNumber
    }
    userErrors {
      field
      code
      message
    }
  }
}
""",
        variables={
            "input": {
                "orderId": "<order id from LookupOrder>",
                "customerEmail": "{customer_email}",
                "returnMethod": "CUSTOMER_SHIPS",
                "resolutionType": "REFUND",
                "items": [
                    {
                        "lineItemId": "<line item id from LookupOrder>",
                        "quantity": 1,
                        "reason": "SIZE_TOO_SMALL",
                        "note": "Runs a size small",
                    }
                ],
            }
        },
        audience="portal",
    ),
    ExampleTab(
        query="""\
# Operations: pull 30 days of orders and
# customers from Shopify again, then follow
# the job. Needs the merchant Authorization.
mutation ResyncShopify {
  resyncShopify(input: {type: FULL, days: 30}) {
    job {
      id
      type
      status
      days
      progress { orders upserted percent }
      etaSeconds
    }
    webhooksRepaired
    userErrors {
      field
      code
      message
    }
  }
}

query SyncJobs {
  syncJobs(first: 10) {
    nodes {
      id
      type
      status
      days
      startedAt
      finishedAt
      error
    }
  }
}
""",
    ),
)


@dataclass(frozen=True, slots=True)
class GraphiQLOptions:
    """What the page opens with, and where it finds its files.

    `default_headers` fill the merchant tabs' Headers pane (the run command passes the
    developer's `Authorization: Bearer ...`); a `?headers={"...": "..."}` query parameter
    overrides them for one visit.
    """

    default_headers: Mapping[str, str] = field(default_factory=dict)
    portal_tenant_id: str = "tenant-rms34"
    portal_customer_email: str = "customer@example.com"
    static_path: str = "/graphql/static"
    assets_dir: Path = ASSETS_DIR
    ide_static_dir: Path = IDE_STATIC_DIR
    tabs: Sequence[ExampleTab] = EXAMPLE_TABS
    title: str = "Returns management · GraphiQL"
    # Host names the page is served for (empty: any). The page may carry a live credential
    # (GRAPHIQL_DEFAULT_HEADERS): a page of another site whose name resolves to this server
    # (DNS rebinding) must not be able to read it.
    allowed_hosts: frozenset[str] = frozenset()


def page_hosts(app_url: str) -> frozenset[str]:
    """The host names GraphiQL is served for: APP_URL's, and the loopback names when APP_URL is
    on loopback (development opens the page at localhost or 127.0.0.1)."""
    host = (urlsplit(app_url).hostname or "").lower()
    return frozenset({host, *LOOPBACK_NAMES}) if host in LOOPBACK_NAMES else frozenset({host})


def graphiql_response(request: Request, options: GraphiQLOptions | None = None) -> HTMLResponse:
    """The GraphiQL page, or a 503 page naming the setup step when the assets are missing; a
    request for another host name gets 421 and no page."""
    options = options or GraphiQLOptions()
    requested = (urlsplit(f"//{request.headers.get('host', '')}").hostname or "").lower()
    if options.allowed_hosts and requested not in options.allowed_hosts:
        return HTMLResponse(
            "GraphiQL is served only at this service's own address (APP_URL).",
            status_code=421,
            headers=_PAGE_HEADERS,
        )
    asset_version = installed_asset_version(options.assets_dir)
    if asset_version is None:
        return _missing_assets_response(options)
    config = _page_config(request, options)
    return HTMLResponse(_render_page(options, asset_version, config), headers=_PAGE_HEADERS)


def installed_asset_version(assets_dir: Path = ASSETS_DIR) -> str | None:
    """A short version tag of the installed vendor files, or None when any is missing."""
    try:
        manifest = json.loads((assets_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    lock_sha256 = manifest.get("lock_sha256") if isinstance(manifest, dict) else None
    if not isinstance(lock_sha256, str):
        return None
    if not all((assets_dir / name).is_file() for name in (*VENDOR_SCRIPTS, *VENDOR_STYLES)):
        return None
    return lock_sha256[:12]


def example_tab_errors(
    schema: GraphQLSchema, tabs: Sequence[ExampleTab] = EXAMPLE_TABS
) -> list[str]:
    """Validation errors of the example documents against `schema` (for a schema-drift test)."""
    options = GraphiQLOptions()
    problems: list[str] = []
    for tab in tabs:
        document = parse(_fill_query(tab.query, options))
        problems.extend(error.message for error in validate(schema, document))
    return problems


def _page_config(request: Request, options: GraphiQLOptions) -> dict[str, Any]:
    merchant_headers = _headers_override(request) or dict(options.default_headers)
    if not merchant_headers:
        merchant_headers = dict(MERCHANT_HEADERS_PLACEHOLDER)
    headers_by_audience = {
        "merchant": merchant_headers,
        "portal": {"X-Tenant-Id": options.portal_tenant_id},
    }
    tabs = [
        {
            "query": _fill_query(tab.query, options),
            "variables": _json_text(_fill_value(tab.variables, options)) if tab.variables else None,
            "headers": _json_text(headers_by_audience.get(tab.audience, {})),
        }
        for tab in options.tabs
    ]
    config: dict[str, Any] = {
        "endpoint": request.url.path,
        "tabs": tabs,
        "defaultHeaders": _json_text(merchant_headers),
    }
    # Editor state is kept per configuration, so a new token or new examples start fresh tabs.
    fingerprint = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    config["storageNamespace"] = f"rms-graphiql:{fingerprint}:"
    return config


def _headers_override(request: Request) -> dict[str, str] | None:
    raw = request.query_params.get("headers")
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in parsed.items()
    ):
        return None
    return parsed


def _fill_query(query: str, options: GraphiQLOptions) -> str:
    # A JSON string is a valid GraphQL string literal, quotes and escapes included.
    return query.replace(f'"{CUSTOMER_EMAIL}"', json.dumps(options.portal_customer_email))


def _fill_value(value: Any, options: GraphiQLOptions) -> Any:
    if value == CUSTOMER_EMAIL:
        return options.portal_customer_email
    if isinstance(value, Mapping):
        return {key: _fill_value(item, options) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill_value(item, options) for item in value]
    return value


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2)


def _render_page(options: GraphiQLOptions, asset_version: str, config: dict[str, Any]) -> str:
    static = html.escape(options.static_path.rstrip("/"), quote=True)
    own_version = _own_files_version(options.ide_static_dir)
    styles = [f"{static}/graphiql/{name}?v={asset_version}" for name in VENDOR_STYLES]
    styles.append(f"{static}/page.css?v={own_version}")
    scripts = [f"{static}/graphiql/{name}?v={asset_version}" for name in VENDOR_SCRIPTS]
    scripts.append(f"{static}/init.js?v={own_version}")
    style_tags = "\n".join(f'    <link rel="stylesheet" href="{href}">' for href in styles)
    script_tags = "\n".join(f'    <script src="{src}" defer></script>' for src in scripts)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>{html.escape(options.title)}</title>
    <link rel="icon" href="data:,">
{style_tags}
{script_tags}
    <script id="graphiql-config" type="application/json">{_json_for_script(config)}</script>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…<noscript> GraphiQL needs JavaScript.</noscript></div>
  </body>
</html>
"""


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or HTML-significant characters."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _own_files_version(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in ("init.js", "page.css"):
        try:
            digest.update((directory / name).read_bytes())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()[:12]


def _missing_assets_response(options: GraphiQLOptions) -> HTMLResponse:
    location = html.escape(str(options.assets_dir))
    body = f"""<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>GraphiQL assets not installed</title></head>
  <body>
    <h1>GraphiQL assets are not installed</h1>
    <p>This service serves GraphiQL from local files (no CDN), and they are missing from
    <code>{location}</code>.</p>
    <p>Run the project setup (<code>scripts/setup</code>), or just:</p>
    <pre>{SETUP_COMMAND}</pre>
    <p>It needs Node.js 20+ and access to the npm registry (or a warm npm cache), then reload
    this page. The GraphQL endpoint itself works without them.</p>
  </body>
</html>
"""
    return HTMLResponse(
        body,
        status_code=503,
        headers={
            "Content-Security-Policy": _MISSING_ASSETS_CSP,
            "Cache-Control": "no-store",
            "Retry-After": "60",
        },
    )


class GraphiQLStaticFiles(StaticFiles):
    """Static files from several directories (first match wins); a missing one is skipped.

    Serves our committed `init.js`/`page.css` and the installed vendor files under one prefix,
    and answers 404 rather than 500 when the vendor files were never installed.
    """

    def __init__(self, directories: Sequence[Path]) -> None:
        super().__init__(directory=None, check_dir=False)
        self.all_directories = [os.fspath(directory) for directory in directories]


def graphiql_static_files(options: GraphiQLOptions | None = None) -> GraphiQLStaticFiles:
    """`/static/init.js`, `/static/page.css`, `/static/graphiql/<vendor file>`."""
    options = options or GraphiQLOptions()
    return GraphiQLStaticFiles([options.ide_static_dir, options.assets_dir.parent])


def mount_graphiql(
    app: FastAPI, *, path_prefix: str = "/graphql", options: GraphiQLOptions | None = None
) -> None:
    """Serve the IDE's static files at `{path_prefix}/static` (the page itself is the router's)."""
    options = options or GraphiQLOptions(static_path=f"{path_prefix.rstrip('/')}/static")
    app.mount(
        f"{path_prefix.rstrip('/')}/static",
        graphiql_static_files(options),
        name="graphiql-static",
    )


@dataclass
class _UnresolvedPersistedQuery(GraphQLRequestData):
    """A request whose persisted query could not be resolved; answered without executing."""

    error: PersistedQueryError | None = None


@dataclass
class _RegisteredPersistedQuery(GraphQLRequestData):
    """A request that registers its query under a hash the shared store may not hold yet."""

    sha256_hash: str = ""


class _PersistedQueryFailure(ExecutionResult):
    """Marks the result so `process_result` omits `data`, as for any request error."""


ContextT = TypeVar("ContextT", default=Any)
RootValueT = TypeVar("RootValueT", default=None)


class LocalGraphiQLRouter(GraphQLRouter[ContextT, RootValueT]):
    """`GraphQLRouter` that serves the self-hosted GraphiQL page and resolves persisted queries.

    Pass `graphql_ide=None` (production) to serve no IDE; pass `persisted_queries=None` to turn
    APQ off. All other arguments are `GraphQLRouter`'s.
    """

    def __init__(
        self,
        *args: Any,
        graphiql_options: GraphiQLOptions | None = None,
        persisted_queries: PersistedQueryStore | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.graphiql_options = graphiql_options or GraphiQLOptions()
        self.persisted_queries = persisted_queries

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_response(request, self.graphiql_options)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A hash-only persisted query over GET has no `query` parameter, but it is no browser.
        return (
            super().should_render_graphql_ide(request)
            and request.query_params.get("extensions") is None
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        request_data = await super().parse_http_body(request)
        if self.persisted_queries is None:
            return request_data
        if isinstance(request_data, list):
            return [await self._resolve_persisted_query(item) for item in request_data]
        return await self._resolve_persisted_query(request_data)

    async def _resolve_persisted_query(
        self, request_data: GraphQLRequestData
    ) -> GraphQLRequestData:
        store = self.persisted_queries
        assert store is not None
        payload = {"query": request_data.query, "extensions": request_data.extensions}
        registering = registered_hash(payload)
        # A hash this process knows was shared when it was learnt (fetched, or saved after it ran).
        new_here = registering is not None and registering not in store
        outcome = await store.resolve_shared(payload)
        if isinstance(outcome, PersistedQueryError):
            return _UnresolvedPersistedQuery(
                query=None,
                variables=request_data.variables,
                operation_name=request_data.operation_name,
                extensions=request_data.extensions,
                protocol=request_data.protocol,
                error=outcome,
            )
        if new_here and store.shared is not None and isinstance(outcome, str):
            return _RegisteredPersistedQuery(
                query=outcome,
                variables=request_data.variables,
                operation_name=request_data.operation_name,
                extensions=request_data.extensions,
                protocol=request_data.protocol,
                sha256_hash=str(registering),
            )
        request_data.query = outcome
        return request_data

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: ContextT,
        root_value: RootValueT | None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, _UnresolvedPersistedQuery) and request_data.error:
            # A single request: answer with Apollo's status (a batch keeps its 200).
            sub_response.status_code = request_data.error.status
            return self._persisted_query_failure(request_data.error, sub_response)
        return await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: ContextT,
        root_value: RootValueT | None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if isinstance(request_data, _UnresolvedPersistedQuery) and request_data.error:
            return self._persisted_query_failure(request_data.error, sub_response)
        result = await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )
        if (
            isinstance(request_data, _RegisteredPersistedQuery)
            and result.data is not None
            and self.may_share_registration(context)
        ):
            await self._share(request_data.sha256_hash, request_data.query or "")
        return result

    def may_share_registration(self, context: ContextT) -> bool:
        """Whether this caller's registrations go to the shared store (else this process only)."""
        return True

    async def _share(self, sha256_hash: str, query: str) -> None:
        """Offer a query that ran (so it validated) to the other processes; best effort: the
        request already succeeded, and a process that misses it asks the client for the text."""
        shared = self.persisted_queries.shared if self.persisted_queries else None
        if shared is None:
            return
        try:
            await shared.save(sha256_hash, query)
        except Exception:
            _log.warning("persisted query not shared", exc_info=True, extra={"hash": sha256_hash})

    @staticmethod
    def _persisted_query_failure(
        error: PersistedQueryError, sub_response: Response
    ) -> ExecutionResult:
        if error.code == PERSISTED_QUERY_NOT_FOUND:
            # The client retries with the text right away; no cache may replay this answer.
            sub_response.headers["Cache-Control"] = "private, no-cache, must-revalidate"
        return _PersistedQueryFailure(data=None, errors=[error.as_graphql_error()])

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if isinstance(result, _PersistedQueryFailure):
            errors: list[GraphQLError] = result.errors or []
            return {"errors": [error.formatted for error in errors]}
        return await super().process_result(request, result)


__all__ = [
    "EXAMPLE_TABS",
    "GRAPHIQL_CSP",
    "ExampleTab",
    "GraphiQLOptions",
    "GraphiQLStaticFiles",
    "LocalGraphiQLRouter",
    "example_tab_errors",
    "graphiql_response",
    "graphiql_static_files",
    "installed_asset_version",
    "mount_graphiql",
]
