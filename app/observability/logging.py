"""Structured JSON log lines, with secrets scrubbed before anything is written.

Every string is cut to a bounded length before the secret patterns scan it, and the patterns are
linear (each can only start a match where a run of its characters starts, and never backtracks
into that run), so no log line costs more than its bounded size, whatever a client sent.
"""

from __future__ import annotations

import logging
import re
import string
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from app.observability.request_context import current_request
from app.observability.tracing import current_trace_ids

REDACTED = "[REDACTED]"
# Longest text of one log field (message, path, extra) and of a formatted exception.
MAX_LOGGED_CHARS = 8_192
MAX_LOGGED_EXCEPTION_CHARS = 32_768

# Values that must never reach a log line, whatever message carried them. A lookbehind makes a
# pattern start only where a run of its leading characters starts, and possessive quantifiers
# (`++`) never give characters back, so a scan is linear in the text's length.
_SECRET_PATTERNS = [
    re.compile(r"(shpat|shpca|shppa|shprt|shpss)_[A-Za-z0-9]++"),  # Shopify tokens and secrets
    re.compile(r"rk_[0-9a-f]{12}_[A-Za-z0-9_\-]++"),  # tenant API keys
    re.compile(r"EZ[AT]K[A-Za-z0-9]++"),  # EasyPost API keys (production and test)
    re.compile(r"gAAAAA[A-Za-z0-9_\-=]{20,}+"),  # Fernet ciphertext
    re.compile(r"(?i)(bearer\s++)[A-Za-z0-9._\-]++"),
    re.compile(  # JWTs
        r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]++\.[A-Za-z0-9_\-]++\.[A-Za-z0-9_\-]++"
    ),
    re.compile(  # customer emails (PII)
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]++@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
    ),
]
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# Characters a secret or an e-mail address the patterns know can be made of.
_TOKEN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._%+@-=")


def clip(text: str, limit: int) -> tuple[str, int]:
    """`text` cut to at most `limit` characters, and how many characters were cut.

    A secret or an e-mail cut in half no longer matches its pattern, so a cut that falls inside
    a run of the characters they are made of drops that whole run (back to the last other
    character, e.g. a space, `&`, `,` or `/`), even when that leaves nothing.
    """
    if len(text) <= limit:
        return text, 0
    kept = text[:limit]
    if text[limit] in _TOKEN_CHARACTERS:
        end = len(kept)
        while end and kept[end - 1] in _TOKEN_CHARACTERS:
            end -= 1
        kept = kept[:end]
    return kept, len(text) - len(kept)


def scrub(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """`text` without secrets or e-mail addresses, cut to `limit` characters before scanning."""
    kept, cut = clip(text, limit)
    for pattern in _SECRET_PATTERNS:
        kept = pattern.sub(REDACTED, kept)
    return f"{kept}...[{cut} more characters]" if cut else kept


def scrub_exception(text: str, limit: int = MAX_LOGGED_EXCEPTION_CHARS) -> str:
    """A formatted traceback scrubbed like `scrub`, keeping its start and its end (the error)."""
    if len(text) <= limit:
        return scrub(text, limit)
    half = limit // 2
    # The end, read backwards so its cut also falls at a word boundary.
    tail, _ = clip(text[-(half + 1) :][::-1], half)
    return scrub(text, half) + "\n...\n" + scrub(tail[::-1], half)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request = current_request()
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if request.request_id != "-":
            line["request_id"] = request.request_id
        if request.tenant_id:
            line["tenant"] = scrub(request.tenant_id)
        if request.operation:
            line["operation"] = scrub(request.operation)
        trace_ids = current_trace_ids()
        if trace_ids is not None:
            line["trace_id"], line["span_id"] = trace_ids
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = scrub_exception(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), MAX_LOGGED_CHARS + MAX_LOGGED_EXCEPTION_CHARS)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json
        else PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
