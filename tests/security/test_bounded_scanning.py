"""Client text is cut before a pattern scans it, and the patterns are linear: one request with a
100,000-character argument or path no longer holds the process (finding 1)."""

from __future__ import annotations

import logging
import re
import time

import httpx
import orjson
import pytest

from app.db import Database
from app.models.audit_log import AuditLog
from app.observability import logging as log_module
from app.observability.access_log import MAX_LOGGED_PATH
from app.observability.logging import MAX_LOGGED_CHARS, JsonFormatter, scrub
from app.services.operations import audit
from app.services.operations.audit import MAX_STRING, scrub_summary, scrub_text
from tests.factories import graphql, make_tenant, merchant_headers
from tests.security.regex_probe import record_scans

CANCEL = """
mutation Cancel($id: ID!) {
  cancelSyncJob(id: $id) { job { id } userErrors { field code message } }
}
"""


def test_an_audit_summary_scans_each_string_only_up_to_its_stored_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned = record_scans(monkeypatch)
    summary = scrub_summary(
        {"variables": {"id": "y" * 100_000, "tags": ["t" * 200_000], "k" * 100_000: "v"}}
    )
    assert scanned and max(scanned) <= MAX_STRING
    assert len(summary["variables"]["id"]) <= MAX_STRING + 3
    assert all(len(key) <= audit.MAX_KEY + 3 for key in summary["variables"])


def test_a_log_line_scans_each_field_only_up_to_its_logged_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned = record_scans(monkeypatch)
    record = logging.makeLogRecord(
        {"msg": "cancel %s", "args": ("y" * 200_000,), "levelname": "INFO", "path": "/" * 90_000}
    )
    line = orjson.loads(JsonFormatter().format(record))
    assert scanned and max(scanned) <= MAX_LOGGED_CHARS
    assert len(line["message"]) < MAX_LOGGED_CHARS + 100
    assert len(line["path"]) < MAX_LOGGED_CHARS + 100


async def test_an_over_long_mutation_argument_reaches_neither_a_pattern_nor_the_audit_unbounded(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("scanaudit")
    headers = await merchant_headers(tenant.id)
    scanned = record_scans(monkeypatch)
    body = await graphql(client, CANCEL, {"id": "y" * 100_000}, headers)
    assert body["data"]["cancelSyncJob"]["userErrors"][0]["code"] == "TOO_LONG"
    assert scanned and max(scanned) <= MAX_LOGGED_CHARS
    entry = await AuditLog.find_one({"tenant_id": tenant.id})
    assert entry is not None and entry.operation == "cancelSyncJob"
    assert entry.target_id is not None and len(entry.target_id) <= MAX_STRING + 3
    assert len(entry.summary["variables"]["id"]) <= MAX_STRING + 3


async def test_the_access_log_of_a_long_path_scans_and_logs_a_bounded_path(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = record_scans(monkeypatch)
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = Capture()
    access = logging.getLogger("app.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = await client.get("/" + "y" * 60_000)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert response.status_code == 404
    assert scanned and max(scanned) <= MAX_LOGGED_CHARS
    [line] = [orjson.loads(text) for text in lines]
    assert line["status"] == 404
    assert len(line["path"]) < MAX_LOGGED_PATH + 100
    # One 60,000-character word could end in a secret: cut at the last delimiter, its length kept.
    assert line["path"] == "/...[60000 more characters]"


def test_a_secret_at_the_end_of_one_long_word_is_not_logged_half() -> None:
    for text in ("q=" + "x" * 8176 + "&e=jane.doe@example.com", "x" * 8190 + "jane.doe@ex.com"):
        assert "jane" not in scrub(text)
    assert "jane" not in scrub_text("x" * 188 + ",jane.doe@example.com")


def test_a_secret_cut_in_half_at_the_limit_is_not_logged() -> None:
    email = "jane.doe@example.com"
    for offset in range(len(email)):
        text = "x " * ((MAX_LOGGED_CHARS - offset) // 2) + email + " tail"
        assert "jane" not in log_module.scrub(text), offset
        assert "jane" not in audit.scrub_text("x " * ((MAX_STRING - offset) // 2) + email)


# Texts built to make a backtracking pattern try every start against every end.
ADVERSARIAL = ["y", "eyJ", "a@", "@a", "a.", "a@a.", "bearer ", "rk_", "gAAAAA", "shpat_", " "]


@pytest.mark.parametrize(
    "pattern",
    [*log_module._SECRET_PATTERNS, audit._EMAIL],
    ids=lambda p: p.pattern[:40],
)
def test_each_secret_pattern_scans_adversarial_text_in_linear_cpu_time(
    pattern: re.Pattern[str],
) -> None:
    # How the work grows, not how long it takes: a text 16 times longer may cost at most 64
    # times the CPU (a linear scan costs 16 times, a quadratic one 256; the quadratic patterns
    # this replaced spent seconds on 50,000 characters). Best of five, on both sides, so that
    # the machine's other work cancels out of the ratio.
    for fragment in ADVERSARIAL:
        short = _best_cpu_seconds(pattern, fragment * (3_000 // len(fragment)) + "!")
        long = _best_cpu_seconds(pattern, fragment * (48_000 // len(fragment)) + "!")
        assert long <= 64 * max(short, 1e-5), (pattern.pattern, fragment, short, long)


def _best_cpu_seconds(pattern: re.Pattern[str], text: str) -> float:
    spent = []
    for _ in range(5):
        started = time.process_time()
        pattern.sub("[REDACTED]", text)
        spent.append(time.process_time() - started)
    return min(spent)
