"""`rms tokens check|rotate-keys|generate-key`: stored Shopify tokens, never printed in clear."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cryptography.fernet import Fernet

from app.config import Settings
from app.db import Database
from app.services.integration.integrations import (
    RotationReport,
    TokenCheck,
    check_tokens,
    rotate_token_keys,
)
from tools.cli.runtime import run_with_database


def check_command(args: argparse.Namespace) -> int:
    """Decrypt the tenant's tokens: prefix, which ENCRYPTION_KEYS entry worked, expiry."""
    settings = Settings()

    async def body(_db: Database) -> TokenCheck | None:
        return await check_tokens(args.tenant, settings)

    check = run_with_database(body, settings)
    if check is None:
        print(f"{args.tenant}: no Shopify integration", file=sys.stderr)
        return 1
    print(f"tenant {check.tenant_id} shop {check.shop_domain} status {check.status}")
    if not check.tokens:
        print("no tokens stored (uninstalled or disconnected)", file=sys.stderr)
        return 1
    for info in check.tokens:
        if info.key_index is None:
            print(f"{info.field}: UNDECRYPTABLE with the configured ENCRYPTION_KEYS")
        else:
            print(
                f"{info.field}: {info.prefix} decrypted with key index {info.key_index}"
                f" (ENCRYPTION_KEYS entry {info.key_index + 1})"
            )
    print(f"access token expires at {check.expires_at.isoformat() if check.expires_at else '-'}")
    refresh_expiry = check.refresh_token_expires_at
    print(f"refresh token expires at {refresh_expiry.isoformat() if refresh_expiry else '-'}")
    return 0 if check.readable else 1


def rotate_command(args: argparse.Namespace) -> int:
    """Re-encrypt every token with the first key; then the old keys can be removed."""
    settings = Settings()

    async def body(_db: Database) -> RotationReport:
        return await rotate_token_keys(settings)

    report = run_with_database(body, settings)
    print(
        f"rotated {report.rotated}, already on the first key {report.current}, "
        f"undecryptable {len(report.failed)}"
    )
    for failed in report.failed:
        print(f"  cannot decrypt {failed}", file=sys.stderr)
    return 1 if report.failed else 0


def generate_key_command(args: argparse.Namespace) -> int:
    """A new Fernet key: put it FIRST in ENCRYPTION_KEYS, restart, then `rotate-keys`."""
    print(Fernet.generate_key().decode())
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tokens", help="stored Shopify tokens and encryption keys")
    commands = parser.add_subparsers(title="tokens commands", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="decrypt a tenant's tokens (prints a prefix only)")
    check.add_argument("tenant", help="tenant id, e.g. tenant-rms34")
    check.set_defaults(func=check_command)
    rotate = commands.add_parser(
        "rotate-keys", help="re-encrypt every token with the first ENCRYPTION_KEYS entry"
    )
    rotate.set_defaults(func=rotate_command)
    generate = commands.add_parser("generate-key", help="print a new Fernet key")
    generate.set_defaults(func=generate_key_command)
