"""The ops commands end to end: `rms db`, `rms backup`, `rms config check`, `rms status`,
`rms worker`, run in-process (or as a process) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import CodecOptions, Decimal128
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from tools.cli import main
from tools.devdb import free_port

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "u4Vh0Yv6bPqJ3hZy3o0mXh2p5P3q6gH0dK6mC9cQbH8="


@pytest.fixture
def cli_env(mongo_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Environment pointing the CLI at a fresh test database; no `.env` in the way."""
    name = f"test_cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("SHOPIFY_", "APP_URL", "ENCRYPTION_KEYS", "ENVIRONMENT", "MONGODB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DB", name)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("LOG_JSON", "true")
    yield name
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    with client:
        client.drop_database(name)


def _db(mongo_uri: str, name: str) -> Any:
    return MongoClient(mongo_uri, tz_aware=True)[name]


def test_db_migrate_status_rollback(
    cli_env: str, mongo_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "status"]) == 1  # pending migrations
    assert "pending" in capsys.readouterr().out

    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "applied  0001 initial_indexes" in out
    assert "applied  0002 journal_barrier" in out
    db = _db(mongo_uri, cli_env)
    assert "tenant_id_1_created_at_-1" in db["returns"].index_information()
    assert "tenant_id_1_order_number_1" in db["orders"].index_information()
    assert "at_ttl" in db["journal_barrier"].index_information()
    assert "expires_ttl" in db["portal_attempts"].index_information()
    assert "created_ttl" in db["persisted_queries"].index_information()
    assert "tenant_shopify_return" in db["returns"].index_information()
    assert "tenant_bonus_credit" in db["returns"].index_information()
    assert "shopify_sync_requeued" in db["returns"].index_information()
    assert "events_due" in db["returns"].index_information()
    assert "tenant_event_endpoint" in db["webhook_deliveries"].index_information()
    assert "tenant_event_recipient" in db["notifications"].index_information()
    assert "tenant_customer_orders" in db["orders"].index_information()
    assert "unused_ttl" in db["return_photos"].index_information()
    versions = [m["version"] for m in db["schema_migrations"].find()]
    assert "shipment_label_due" in db["returns"].index_information()
    assert versions == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

    assert main(["db", "migrate"]) == 0
    assert "no change" in capsys.readouterr().out
    assert main(["db", "status"]) == 0

    assert main(["db", "rollback", "--to", "previous"]) == 0
    assert "reverted 0012 shipping" in capsys.readouterr().out
    assert "shipment_tracker" not in db["returns"].index_information()
    assert "tenant_customer_orders" in db["orders"].index_information()
    assert main(["db", "rollback", "--to", "previous"]) == 0
    assert "reverted 0011 portal" in capsys.readouterr().out
    assert "tenant_customer_orders" not in db["orders"].index_information()
    assert "events_due" in db["returns"].index_information()
    assert main(["db", "rollback", "--to", "previous"]) == 0
    assert "reverted 0010 notifications" in capsys.readouterr().out
    assert "events_due" not in db["returns"].index_information()
    assert "tenant_event_recipient" not in db["notifications"].index_information()
    assert "shopify_sync_requeued" in db["returns"].index_information()
    assert main(["db", "rollback", "--to", "0"]) == 0
    assert "reverted 0001 initial_indexes" in capsys.readouterr().out
    assert "tenant_id_1_created_at_-1" not in db["returns"].index_information()
    assert db["schema_migrations"].count_documents({}) == 0

    assert main(["db", "migrate", "--to", "99"]) == 1
    assert "no migration 99" in capsys.readouterr().err


def test_backup_create_restore_prune(
    cli_env: str, mongo_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(mongo_uri, cli_env)
    db["orders"].insert_many(
        [
            {
                "tenant_id": "tenant-cli",
                "order_number": str(n),
                "total_price": Decimal128(Decimal("10.50")),
                "created_at": datetime.now(UTC),
            }
            for n in range(1001, 1011)
        ]
    )
    db["orders"].create_index([("tenant_id", 1), ("order_number", 1)], name="t_on", unique=True)
    db["tenants"].insert_one({"_id": "tenant-cli", "id": "tenant-cli", "name": "CLI"})
    raw = CodecOptions(document_class=RawBSONDocument)

    def snapshot() -> dict[str, list[bytes]]:
        return {
            name: [
                bytes(d.raw)
                for d in db.get_collection(name, codec_options=raw).find().sort("_id", 1)
            ]
            for name in ("orders", "tenants")
        }

    before = snapshot()
    out = tmp_path / "backups" / "nightly"
    assert main(["backup", "create", "--out", str(out)]) == 0
    assert "11 documents" in capsys.readouterr().out
    assert (out / cli_env / "orders.bson.gz").exists()

    assert main(["backup", "restore", str(out)]) == 1  # collections not empty, no --drop
    assert "--drop" in capsys.readouterr().err

    db.client.drop_database(cli_env)
    assert main(["backup", "restore", str(out)]) == 0
    assert "restored 11 documents" in capsys.readouterr().out
    assert snapshot() == before
    assert db["orders"].index_information()["t_on"]["unique"] is True

    old = tmp_path / "backups" / "ancient"
    assert main(["backup", "create", "--out", str(old)]) == 0
    manifest = old / "rms-backup.json"
    manifest.write_text(
        manifest.read_text().replace(
            manifest.read_text().split('"created_at": "')[1].split('"')[0],
            (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        )
    )
    capsys.readouterr()
    assert main(["backup", "prune", "--keep-days", "7", "--dir", str(tmp_path / "backups")]) == 0
    assert "1 backups older than 7 days removed" in capsys.readouterr().out
    assert not old.exists()
    assert out.exists()


def test_backup_restore_of_a_truncated_archive_fails_and_touches_nothing(
    cli_env: str, mongo_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(mongo_uri, cli_env)
    db["orders"].insert_many([{"n": n, "pad": "x" * 200} for n in range(200)])
    out = tmp_path / "b"
    assert main(["backup", "create", "--out", str(out)]) == 0
    data_file = out / cli_env / "orders.bson.gz"
    data_file.write_bytes(data_file.read_bytes()[:-20])
    db["orders"].delete_many({"n": {"$gte": 100}})
    capsys.readouterr()

    assert main(["backup", "restore", str(out), "--drop"]) == 1
    err = capsys.readouterr().err
    assert "orders.bson.gz" in err
    assert "truncated" in err or "corrupt" in err
    assert db["orders"].count_documents({}) == 100  # untouched


def test_config_check_prints_the_urls_shopify_must_have(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_URL", "https://returns.example.com")
    monkeypatch.setenv("SHOPIFY_API_KEY", "0123456789abcdef")
    monkeypatch.setenv("SHOPIFY_API_SECRET", "shpss_realsecretvalue")
    monkeypatch.setenv("ENCRYPTION_KEYS", GOOD_KEY)
    monkeypatch.setenv("SMTP_URL", "smtps://returns:pw@smtp.example.com")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "https://returns.example.com/api/auth/shopify/callback" in out
    assert "https://returns.example.com/api/webhooks/orders/create" in out
    assert "https://returns.example.com/api/webhooks/app/uninstalled" in out
    assert "https://returns.example.com/api/webhooks/shop/redact" in out
    assert "configuration OK" in out


def test_config_check_flags_slash_http_bad_keys_and_placeholders(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("APP_URL", "http://returns.example.com/")
    monkeypatch.setenv("SHOPIFY_API_KEY", "0123456789abcdef")
    monkeypatch.setenv("SHOPIFY_API_SECRET", "changeme")
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{GOOD_KEY},not-a-fernet-key")
    monkeypatch.setenv("SMTP_URL", "smtp://user:s3cret@")
    monkeypatch.setenv("EASYPOST_API_KEY", "EZAKsecretkey")
    monkeypatch.setenv("EASYPOST_WEBHOOK_SECRET", "")
    assert main(["config", "check"]) == 1
    out = capsys.readouterr().out
    assert "WARNING EASYPOST_WEBHOOK_SECRET: not set while labels are bought" in out
    assert "EZAKsecretkey" not in out
    assert "ERROR   SMTP_URL: is not smtp://" in out and "s3cret" not in out
    assert "http://returns.example.com/api/auth/shopify/callback" in out  # slash stripped
    assert "trailing slash" in out
    assert "ERROR   APP_URL: uses http://" in out
    assert "ERROR   ENCRYPTION_KEYS: entry 2 is not a valid Fernet key" in out
    assert "ERROR   SHOPIFY_API_SECRET: missing or a placeholder value" in out
    assert "refuses to start" in out


def _app_toml_as_settings_say(tmp_path: Path) -> str:
    """The repository's shopify.app.toml with its placeholders filled in as the settings are."""
    text = (ROOT / "shopify.app.toml").read_text()
    text = text.replace("YOUR_SHOPIFY_API_KEY", "0123456789abcdef")
    path = tmp_path / "shopify.app.toml"
    path.write_text(text)
    return str(path)


def _production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("APP_URL", "https://returns.example.com")
    monkeypatch.setenv("SHOPIFY_API_KEY", "0123456789abcdef")
    monkeypatch.setenv("SHOPIFY_API_SECRET", "shpss_realsecretvalue")
    monkeypatch.setenv("ENCRYPTION_KEYS", GOOD_KEY)
    monkeypatch.setenv("OPERATOR_API_KEY", "op-key-0123456789abcdef")
    monkeypatch.setenv("SMTP_URL", "smtp://returns:mail-password@smtp.example.com:587")


def test_config_check_accepts_an_app_toml_that_agrees_with_the_settings(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _production_env(monkeypatch)
    assert main(["config", "check", "--app-toml", _app_toml_as_settings_say(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out  # printed only when there is no finding at all
    assert "App proxy URL            https://returns.example.com/portal/proxy" in out


def test_config_check_wants_the_scope_shopify_sets_the_app_proxy_up_with(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _production_env(monkeypatch)
    path = Path(_app_toml_as_settings_say(tmp_path))
    path.write_text(path.read_text().replace(",write_app_proxy", ""))
    assert main(["config", "check", "--app-toml", str(path)]) == 1
    assert "lacks write_app_proxy" in capsys.readouterr().out


def test_config_check_names_each_difference_with_the_app_toml(
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _production_env(monkeypatch)
    monkeypatch.setenv("APP_URL", "https://returns.other.example")
    monkeypatch.setenv("SHOPIFY_SCOPES", "read_orders,read_customers")
    monkeypatch.setenv("SHOPIFY_API_VERSION", "2026-07")
    assert main(["config", "check", "--app-toml", _app_toml_as_settings_say(tmp_path)]) == 1
    out = capsys.readouterr().out
    for key in (
        "application_url",
        "auth.redirect_urls",
        "access_scopes.scopes",
        "webhooks.api_version",
        "webhooks: topic shop/redact",
        "webhooks: topic app/scopes_update",
        "app_proxy.url",
    ):
        assert f"ERROR   shopify.app.toml {key}" in out, key
    assert "shopify.app.toml client_id" not in out


def test_status_shows_health_jobs_webhooks_and_alerts(
    cli_env: str, mongo_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(mongo_uri, cli_env)
    now = datetime.now(UTC)
    db["integrations_shopify"].insert_many(
        [
            {"tenant_id": "tenant-a", "shop_domain": "a.myshopify.com", "status": "connected"},
            {"tenant_id": "tenant-b", "shop_domain": "b.myshopify.com", "status": "uninstalled"},
        ]
    )
    db["sync_jobs"].insert_many(
        [
            {
                "tenant_id": "tenant-a",
                "type": "full",
                "status": "running",
                "started_at": now - timedelta(hours=3),
            },
            {"tenant_id": "tenant-b", "type": "full", "status": "completed"},
        ]
    )
    db["webhook_events"].insert_many(
        [
            {
                "tenant_id": "tenant-a",
                "shop_domain": "a.myshopify.com",
                "topic": "orders/create",
                "event_id": str(n),
                "processed": n > 0,
                "dead": False,
                "error": "boom" if n == 0 else None,
                "received_at": now - timedelta(minutes=3),
            }
            for n in range(4)
        ]
    )
    db["notifications"].insert_many(
        [
            {"tenant_id": "tenant-a", "status": "pending", "next_attempt_at": now},
            {
                "tenant_id": "tenant-a",
                "status": "pending",
                "next_attempt_at": now - timedelta(hours=1),
            },
            {"tenant_id": "tenant-a", "status": "sent", "next_attempt_at": None},
        ]
    )
    db["webhook_endpoints"].insert_one({"tenant_id": "tenant-a", "status": "disabled"})
    code = main(["status"])
    out = capsys.readouterr().out
    assert "emails             2 pending, 1 overdue" in out
    assert "webhook deliveries 0 pending, 0 overdue" in out
    assert "1 merchants' webhook endpoints disabled" in out
    assert code == (1 if "FIRING" in out else 0)
    assert "database       ok" in out
    assert "connected 1" in out
    assert "uninstalled 1" in out
    assert "running 1" in out
    assert "STALE" in out
    assert "rms sync clear-stale-locks" in out
    assert "received 4, processed 3, failing 1" in out
    assert "FIRING   webhook_failures" in out  # 1 of 4 failing: 25% > 10%
    assert "UNKNOWN  error_rate" in out  # request stats live in the API process
    for name in ("response_time", "db_connections", "disk_space"):
        assert name in out

    assert main(["status", "--json"]) == code
    assert '"healthy": false' in capsys.readouterr().out


def test_worker_runs_until_sigterm_and_serves_its_metrics(cli_env: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    port = free_port()
    metrics = ["--metrics-port", str(port), "--metrics-address", "127.0.0.1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tools", "worker", *metrics],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "running" in first, first + (process.stderr.read() if process.stderr else "")
        # The counters of background work, which the API's /metrics cannot show.
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert scraped.status_code == 200 and "rms_webhook_events_received" in scraped.text
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_notifications_list_and_retry(
    cli_env: str, mongo_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db(mongo_uri, cli_env)
    now = datetime.now(UTC)
    common = {
        "event_type": "return.approved",
        "return_id": "r1",
        "recipient": "customer",
        "locale": "en",
        "subject": "Your return is approved",
        "text": "t",
        "html": "h",
        "created_at": now,
    }
    db["notifications"].insert_many(
        [
            {
                **common,
                "tenant_id": "tenant-a",
                "event_id": "evt_1",
                "to": "ada@example.com",
                "message_id": "<1@x>",
                "status": "failed",
                "attempts": 6,
                "error": "SMTPServerDisconnected: gone",
                "next_attempt_at": None,
            },
            {
                **common,
                "tenant_id": "tenant-b",
                "event_id": "evt_2",
                "to": "bob@example.com",
                "message_id": "<2@x>",
                "status": "failed",
                "attempts": 6,
                "next_attempt_at": None,
            },
        ]
    )
    assert main(["notifications", "list", "--tenant", "tenant-a"]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "ada@example.com" in out and "SMTPServerDisconnected" in out
    assert "bob@example.com" not in out  # the other tenant's
    assert main(["notifications", "retry", "--tenant", "tenant-a"]) == 0
    assert "re-queued 1 failed email(s) of tenant-a" in capsys.readouterr().out
    statuses = {d["to"]: (d["status"], d["attempts"]) for d in db["notifications"].find()}
    assert statuses == {"ada@example.com": ("pending", 0), "bob@example.com": ("failed", 6)}
