"""`rms dev`: the whole service on one machine, ready to explore.

Starts the embedded database (persistent under `.data/`), the Shopify simulator with the demo
shop `rms34.myshopify.com`, the carrier (EasyPost) simulator, and the service; installs the service into the shop through the real
OAuth routes; waits for the first sync; files a few sample returns through the customer portal;
then prints the GraphiQL address and a ready merchant `Authorization` header.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from app.config import Settings
from app.db import connect
from app.main import create_app
from app.migrations import MigrationRunner
from app.services.auth import issue_api_key
from app.services.tenants import ensure_tenant
from tools.devdb import EmbeddedDatabase
from tools.shopify_sim import SimulatorConfig, SimulatorServer

if TYPE_CHECKING:  # a development dependency (segno), imported when `rms dev` runs
    from tools.carrier_sim import CarrierSimulatorServer

DEMO_SHOP = "rms34.myshopify.com"
DEMO_TENANT = "tenant-rms34"
# The demo's carrier account and webhook secret: the simulator's, whatever .env says.
DEMO_CARRIER_KEY = "sim-easypost-key"
DEMO_CARRIER_WEBHOOK_SECRET = "dev-easypost-webhook-secret"


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev", help="run the service locally with an embedded database and a simulated shop"
    )
    parser.add_argument("--port", type=int, default=8000, help="service port (default 8000)")
    parser.add_argument("--db-port", type=int, default=27018)
    parser.add_argument("--sim-port", type=int, default=9100)
    parser.add_argument("--carrier-port", type=int, default=9200, help="carrier simulator")
    parser.add_argument("--smtp-port", type=int, default=1025, help="development mail server")
    parser.add_argument("--mail-port", type=int, default=8025, help="its page of received mail")
    parser.add_argument("--data-dir", default=".data", help="database files live here")
    parser.add_argument("--orders", type=int, default=120, help="orders in the demo shop")
    parser.add_argument(
        "--exit-after-setup",
        action="store_true",
        help="stop once the demo is ready (used by the smoke test)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for port, flag in (
        (args.port, "--port"),
        (args.db_port, "--db-port"),
        (args.sim_port, "--sim-port"),
        (args.carrier_port, "--carrier-port"),
        (args.smtp_port, "--smtp-port"),
        (args.mail_port, "--mail-port"),
    ):
        if _port_open(port):
            print(f"port {port} is busy: pass {flag} to choose another")
            return 1
    database = EmbeddedDatabase(
        port=args.db_port, storage_path=data_dir / "db", log_path=data_dir / "db.log"
    )
    app_url = f"http://127.0.0.1:{args.port}"
    base = Settings()
    simulator = SimulatorServer(
        SimulatorConfig(
            api_key=base.shopify_api_key,
            api_secret=base.shopify_api_secret,
            default_orders=args.orders,
            shops=(DEMO_SHOP,),
            compliance_url=f"{app_url}/api/webhooks/{{topic}}",
            # The demo shop's storefront forwards /apps/returns/... to the portal, signed.
            app_proxy_url=f"{app_url}/portal/proxy",
        ),
        port=args.sim_port,
    )
    # Development dependencies, imported here: `rms` also runs where only the service is installed.
    from tools.carrier_sim import CarrierSimConfig, CarrierSimulatorServer

    carrier = CarrierSimulatorServer(
        CarrierSimConfig(
            api_keys=(DEMO_CARRIER_KEY,),
            webhook_url=f"{app_url}/api/webhooks/easypost",
            webhook_secret=DEMO_CARRIER_WEBHOOK_SECRET,
        ),
        port=args.carrier_port,
    )
    # A real SMTP server that keeps what it gets.
    from tools.devmail import DevMailServer

    mail = DevMailServer(args.smtp_port, args.mail_port)
    try:
        database.start()
        simulator.start()
        carrier.start()
        mail.start()
        settings = base.model_copy(
            update={
                # The demo's emails stay on this machine, whatever SMTP_URL says in .env.
                "smtp_url": mail.smtp_url,
                "mongodb_uri": database.uri,
                "app_url": app_url,
                "shopify_admin_base_url": simulator.admin_base_template,
                # Labels are bought from the carrier simulator, tracking comes back from it.
                "easypost_api_key": DEMO_CARRIER_KEY,
                "easypost_api_base_url": carrier.api_base_url,
                "easypost_webhook_secret": DEMO_CARRIER_WEBHOOK_SECRET,
                "environment": "development",
                "log_json": False,
                "log_level": "WARNING",
            }
        )
        return asyncio.run(_run(settings, args, simulator, carrier, mail.page_url))
    except KeyboardInterrupt:
        return 0
    finally:
        mail.stop()
        carrier.stop()
        simulator.stop()
        database.stop()


async def _run(
    settings: Settings,
    args: argparse.Namespace,
    simulator: SimulatorServer,
    carrier: CarrierSimulatorServer,
    mail_page: str,
) -> int:
    header = await _merchant_header(settings)
    settings = settings.model_copy(update={"graphiql_default_headers": json.dumps(header)})
    return await _serve(settings, args, header, simulator, carrier, mail_page)


async def _merchant_header(settings: Settings) -> dict[str, str]:
    db = await connect(settings)
    try:
        # As a deployment does before starting the API (`/api/health/ready` waits for it).
        await MigrationRunner(db.db).migrate()
        tenant = await ensure_tenant(DEMO_SHOP, "RMS 34 demo shop")
        issued = await issue_api_key(tenant.id, name="rms dev")
        return {"Authorization": f"Bearer {issued.key}"}
    finally:
        await db.close()


def server_config(app: Any, settings: Settings, port: int) -> uvicorn.Config:
    """uvicorn for `rms dev`: loopback only, and forwarded headers trusted only from the
    proxies in FORWARDED_ALLOW_IPS (uvicorn trusts loopback's by default: any local page could
    then pick its client address and walk around the portal's failed-lookup limit)."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


async def _serve(
    settings: Settings,
    args: argparse.Namespace,
    header: dict[str, str],
    simulator: SimulatorServer,
    carrier: CarrierSimulatorServer,
    mail_page: str,
) -> int:
    app = create_app(settings)
    server = uvicorn.Server(server_config(app, settings, args.port))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return 1
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await _install(http, settings)
            synced = await _wait_for_first_sync(http, settings, header)
            await _graphql(http, settings, DEMO_SHIPPING, headers=header)
            filed = await _file_sample_returns(http, settings, header)
        _print_banner(settings, header, synced, filed, simulator, carrier, mail_page)
        if args.exit_after_setup:
            server.should_exit = True
        else:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await serving
        return 0
    except BaseException:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await serving
        raise


async def _install(http: httpx.AsyncClient, settings: Settings) -> None:
    """Install through the real OAuth routes: install -> simulator authorize -> callback."""
    response = await http.get(
        f"{settings.app_url}/api/auth/shopify/install", params={"shop": DEMO_SHOP}
    )
    for _ in range(3):
        if response.status_code not in (301, 302, 303, 307):
            break
        location = response.headers["location"]
        if not location.startswith("http"):
            break
        if location.startswith(f"{settings.app_url}/graphql"):
            return
        response = await http.get(location)
    if response.status_code >= 400:
        raise RuntimeError(f"OAuth install failed: {response.status_code} {response.text[:300]}")


async def _graphql(
    http: httpx.AsyncClient,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await http.post(
        f"{settings.app_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers or {},
    )
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL error: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


async def _wait_for_first_sync(
    http: httpx.AsyncClient, settings: Settings, header: dict[str, str], timeout: float = 120
) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        data = await _graphql(
            http, settings, "{ syncJobs(first: 1) { nodes { status error } } }", headers=header
        )
        jobs = data["syncJobs"]["nodes"]
        if jobs and jobs[0]["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            if jobs[0]["status"] != "COMPLETED":
                raise RuntimeError(f"first sync ended {jobs[0]['status']}: {jobs[0]['error']}")
            break
        await asyncio.sleep(0.5)
    else:
        raise RuntimeError("first sync did not finish in time")
    data = await _graphql(http, settings, "{ orders(first: 100) { nodes { id } } }", headers=header)
    return len(data["orders"]["nodes"])


# The demo shop's warehouse, so prepaid labels can be bought (the cheapest USPS or UPS rate).
DEMO_SHIPPING = """
mutation {
  updateReturnPolicy(input: {
    allowedMethods: [CUSTOMER_SHIPS, PREPAID_LABEL, DROP_OFF]
    shipping: {
      returnAddress: {name: "RMS 34 Returns", street1: "1 Warehouse Way", city: "Reno",
                      province: "NV", zip: "89501", countryCode: "US"}
      allowedServices: [{carrier: "USPS"}, {carrier: "UPS"}]
    }
  }) { userErrors { field message } }
}
"""

SAMPLE_LOOKUP = """
query Lookup($number: String!, $email: String!) {
  lookupOrder(orderNumber: $number, customerEmail: $email) {
    id eligible lineItems { id returnableQuantity eligible }
  }
}
"""

SAMPLE_CREATE = """
mutation File($input: CreateReturnInput!) {
  createReturn(input: $input) { return { id status } userErrors { field code message } }
}
"""
SAMPLE_APPROVE = """
mutation Approve($id: ID!) { approveReturn(id: $id) { userErrors { field message } } }
"""


async def _file_sample_returns(
    http: httpx.AsyncClient, settings: Settings, header: dict[str, str], wanted: int = 5
) -> int:
    """File a few returns the way a customer would: lookupOrder, then createReturn. The first
    asks for a prepaid label and is approved, so its label is bought from the carrier
    simulator."""
    data = await _graphql(
        http,
        settings,
        "{ orders(first: 100) { nodes { id orderNumber email } } }",
        headers=header,
    )
    portal = {"X-Tenant-Id": DEMO_TENANT}
    filed = 0
    reasons = ["DEFECTIVE", "SIZE_TOO_SMALL", "WRONG_ITEM", "NOT_AS_DESCRIBED", "UNWANTED"]
    for order in data["orders"]["nodes"]:
        if filed >= wanted or not order["email"]:
            continue
        found = await _graphql(
            http,
            settings,
            SAMPLE_LOOKUP,
            {"number": order["orderNumber"], "email": order["email"]},
            headers=portal,
        )
        looked_up = found.get("lookupOrder")
        if not looked_up or not looked_up["eligible"]:
            continue
        items = [
            li for li in looked_up["lineItems"] if li["eligible"] and li["returnableQuantity"] > 0
        ][:1]
        if not items:
            continue
        created = await _graphql(
            http,
            settings,
            SAMPLE_CREATE,
            {
                "input": {
                    "orderId": order["id"],
                    "customerEmail": order["email"],
                    "returnMethod": "PREPAID_LABEL" if filed == 0 else "CUSTOMER_SHIPS",
                    "resolutionType": "REFUND",
                    "items": [
                        {
                            "lineItemId": items[0]["id"],
                            "quantity": 1,
                            "reason": reasons[filed % len(reasons)],
                            "note": "Filed by rms dev",
                        }
                    ],
                }
            },
            headers=portal,
        )
        made = created["createReturn"]["return"]
        if made:
            if filed == 0 and made["status"] == "REQUESTED":
                await _graphql(http, settings, SAMPLE_APPROVE, {"id": made["id"]}, headers=header)
            filed += 1
    return filed


def _print_banner(
    settings: Settings,
    header: dict[str, str],
    synced: int,
    filed: int,
    simulator: SimulatorServer,
    carrier: CarrierSimulatorServer,
    mail_page: str,
) -> None:
    line = "-" * 72
    print(line)
    print("Returns management is running.")
    print(f"  GraphiQL:        {settings.app_url}/graphql")
    print(f"  Returns portal:  {settings.app_url}/portal/{DEMO_SHOP}")
    storefront = simulator.base_url.replace("127.0.0.1", DEMO_SHOP)
    print(
        f"  Storefront (sim): {storefront}/apps/returns  (through the app proxy; needs "
        f"{DEMO_SHOP} -> 127.0.0.1, e.g. chromium --host-resolver-rules='MAP {DEMO_SHOP} "
        "127.0.0.1'; sign in at /account/login?customer_id=...)"
    )
    print(f"  Health:          {settings.app_url}/api/health")
    print(f"  Metrics:         {settings.app_url}/metrics")
    print(f"  Shopify (sim):   {simulator.base_url}/{DEMO_SHOP}  (tenant {DEMO_TENANT})")
    print(
        f"  Carrier (sim):   {carrier.api_base_url}  (labels; move parcels with "
        f'POST {carrier.base_url}/_sim/clock/advance {{"hours": 60}})'
    )
    print(f"  Demo data:       {synced} orders synced, {filed} sample returns filed")
    print(
        f"  Mail (dev):      {mail_page}  (what the service emailed; SMTP {settings.smtp_url.split('@')[-1]})"
    )
    print("  Merchant header (paste into GraphiQL's Headers pane):")
    print(f"    {json.dumps(header)}")
    print("  Customer-portal header for lookupOrder / createReturn:")
    print(f'    {{"X-Tenant-Id": "{DEMO_TENANT}"}}')
    print("Press Ctrl+C to stop.")
    print(line, flush=True)
