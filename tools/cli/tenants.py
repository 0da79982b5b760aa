"""`rms tenants list|create|create-key|revoke-keys`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.db import Database
from app.models import Tenant
from app.services.auth import issue_api_key, revoke_api_keys
from app.services.integration.integrations import get_integration
from app.services.integration.shop_domain import InvalidShopDomain
from app.services.tenants import ensure_tenant, get_tenant, list_tenants
from tools.cli.runtime import run_with_database


def shop_for(tenant_or_shop: str) -> str:
    """`tenant-rms34`, `rms34` or `rms34.myshopify.com` -> `rms34.myshopify.com`."""
    value = tenant_or_shop.strip().lower()
    if value.endswith(".myshopify.com"):
        return value
    return value.removeprefix("tenant-") + ".myshopify.com"


def list_command(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> list[tuple[Tenant, str]]:
        rows = []
        for tenant in await list_tenants():
            integration = await get_integration(tenant.id)
            rows.append((tenant, integration.status.value if integration else "not installed"))
        return rows

    rows = run_with_database(body)
    for tenant, status in rows:
        print(f"{tenant.id}\t{tenant.shop_domain}\t{status}\t{tenant.created_at.isoformat()}")
    if not rows:
        print("no tenants", file=sys.stderr)
    return 0


def create_command(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> Tenant:
        return await ensure_tenant(shop_for(args.tenant_or_shop), args.name)

    try:
        tenant = run_with_database(body)
    except InvalidShopDomain as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{tenant.id}\t{tenant.shop_domain}")
    return 0


def create_key_command(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> str | None:
        if await get_tenant(args.tenant) is None:
            return None
        return (await issue_api_key(args.tenant, args.name)).key

    key = run_with_database(body)
    if key is None:
        print(
            f"error: no tenant {args.tenant} (create it with `rms tenants create`)", file=sys.stderr
        )
        return 1
    print(key)
    print("store this key now: it is not shown again", file=sys.stderr)
    return 0


def revoke_keys_command(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> int:
        return await revoke_api_keys(args.tenant)

    count = run_with_database(body)
    print(f"revoked {count} API key(s) of {args.tenant}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tenants", help="tenants and their API keys")
    commands = parser.add_subparsers(title="tenants commands", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="every tenant with its integration status")
    listing.set_defaults(func=list_command)
    create = commands.add_parser("create", help="create a tenant (tenant-x, x or x.myshopify.com)")
    create.add_argument("tenant_or_shop")
    create.add_argument("--name", default=None, help="display name (default: the shop name)")
    create.set_defaults(func=create_command)
    key = commands.add_parser("create-key", help="issue a tenant API key (printed once)")
    key.add_argument("tenant", help="tenant id, e.g. tenant-rms34")
    key.add_argument("--name", default="", help="what the key is for")
    key.set_defaults(func=create_key_command)
    revoke = commands.add_parser("revoke-keys", help="revoke every API key of a tenant")
    revoke.add_argument("tenant")
    revoke.set_defaults(func=revoke_keys_command)
