"""Log lines are JSON with the request's facts, and never carry secrets or customer emails."""

from __future__ import annotations

import logging

import orjson

from app.observability.logging import JsonFormatter, scrub, scrub_exception
from app.observability.request_context import RequestInfo, bind_request, unbind_request


def test_secrets_and_emails_are_scrubbed() -> None:
    text = (
        "token shpat_abc123 key rk_0123456789ab_secretpart Bearer eyJh.eyJi.sig "
        "cipher gAAAAABkX2xvbmdjaXBoZXJ0ZXh0dGhhdGlzZmFrZQ== mail Jane.Doe+x@Example.com "
        "carrier EZAK0123456789abcdef0123456789abcdef"
    )
    cleaned = scrub(text)
    for secret in (
        "shpat_abc123",
        "rk_0123456789ab_secretpart",
        "eyJh.eyJi.sig",
        "gAAAAABk",
        "Jane.Doe",
        "EZAK0123456789",
    ):
        assert secret not in cleaned


def test_json_line_carries_request_tenant_and_operation() -> None:
    token = bind_request(RequestInfo(request_id="req-1", tenant_id="tenant-a", operation="Approve"))
    try:
        record = logging.makeLogRecord(
            {
                "msg": "hello %s",
                "args": ("a@b.co",),
                "levelno": 20,
                "levelname": "INFO",
                "name": "t",
                "status": 200,
            }
        )
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        unbind_request(token)
    assert line["request_id"] == "req-1"
    assert line["tenant"] == "tenant-a"
    assert line["operation"] == "Approve"
    assert line["status"] == 200
    assert "a@b.co" not in line["message"]


def test_a_long_field_is_cut_before_scanning_and_says_how_much_was_cut() -> None:
    cleaned = scrub("word " * 4_000 + "a@b.co", limit=100)
    assert len(cleaned) < 140
    assert cleaned.startswith("word word")
    assert cleaned.endswith("more characters]")
    assert "a@b.co" not in cleaned


def test_a_long_traceback_keeps_its_start_and_its_error() -> None:
    text = "Traceback (most recent call last):\n" + "  frame\n" * 20_000 + "ValueError: a@b.co"
    cleaned = scrub_exception(text, limit=1_000)
    assert len(cleaned) < 1_100
    assert cleaned.startswith("Traceback")
    assert cleaned.endswith("ValueError: [REDACTED]")
