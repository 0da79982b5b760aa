"""Stand-ins for the compiled patterns that scan client text, recording what they are handed.

A stall test asserts on these lengths, not on time: the text handed to a pattern must be bounded
whatever the request carried. Texts longer than `SCAN_LIMIT` are recorded but not scanned, so the
unfixed code (which handed 100,000 characters to a quadratic pattern) fails instead of hanging.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.observability import logging as log_module
from app.services.operations import audit

SCAN_LIMIT = 50_000


class RecordingPattern:
    def __init__(self, pattern: re.Pattern[str], seen: list[int]) -> None:
        self.pattern = pattern
        self.seen = seen

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        self.seen.append(len(string))
        return self.pattern.sub(repl, string, count) if len(string) <= SCAN_LIMIT else string

    def search(self, string: str, *args: Any) -> re.Match[str] | None:
        self.seen.append(len(string))
        return self.pattern.search(string, *args) if len(string) <= SCAN_LIMIT else None


def record_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the log and audit patterns; returns the list of text lengths they are handed."""
    seen: list[int] = []
    monkeypatch.setattr(
        log_module,
        "_SECRET_PATTERNS",
        [RecordingPattern(p, seen) for p in log_module._SECRET_PATTERNS],
    )
    monkeypatch.setattr(audit, "_EMAIL", RecordingPattern(audit._EMAIL, seen))
    monkeypatch.setattr(audit, "_SENSITIVE_KEY", RecordingPattern(audit._SENSITIVE_KEY, seen))
    return seen
