"""`rms webhooks hmac` and `rms webhooks replay --dead`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from pymongo import MongoClient

from app.config import Settings
from tools.cli import main


def test_hmac_prints_the_header_shopify_would_send(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"test": true}'
    path = tmp_path / "body.json"
    path.write_bytes(body)
    assert main(["webhooks", "hmac", "--secret", "your_shopify_secret", str(path)]) == 0
    expected = base64.b64encode(hmac.new(b"your_shopify_secret", body, hashlib.sha256).digest())
    assert capsys.readouterr().out.strip() == expected.decode()


def test_hmac_secret_defaults_to_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPIFY_API_SECRET", "from-env")
    path = tmp_path / "body.json"
    path.write_bytes(b"{}")
    assert main(["webhooks", "hmac", str(path)]) == 0
    expected = base64.b64encode(hmac.new(b"from-env", b"{}", hashlib.sha256).digest()).decode()
    assert capsys.readouterr().out.strip() == expected


def test_replay_dead_requeues_and_prints_the_count(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", settings.mongodb_db)
    client: MongoClient[dict[str, object]] = MongoClient(settings.mongodb_uri)
    events = client[settings.mongodb_db]["webhook_events"]
    base = {"shop_domain": "a.myshopify.com", "topic": "orders/create", "processed": False}
    events.insert_many(
        [
            {**base, "event_id": "1", "tenant_id": "tenant-a", "dead": True, "attempts": 8},
            {**base, "event_id": "2", "tenant_id": "tenant-b", "dead": True, "attempts": 8},
            {**base, "event_id": "3", "tenant_id": "tenant-a", "dead": False, "attempts": 1},
        ]
    )
    try:
        assert main(["webhooks", "replay", "--dead", "--tenant", "tenant-a"]) == 0
        assert "re-queued 1 dead webhook event(s) of tenant-a" in capsys.readouterr().out
        assert main(["webhooks", "replay", "--dead"]) == 0
        assert "re-queued 1 dead webhook event(s)" in capsys.readouterr().out
        assert events.count_documents({"dead": True}) == 0
        assert events.find_one({"event_id": "1"})["attempts"] == 0  # type: ignore[index]
    finally:
        client.drop_database(settings.mongodb_db)
        client.close()
