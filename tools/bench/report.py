"""The result table (operation, ours, baseline, ratio, target, pass/fail) and its JSON file."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.bench.options import RESULTS_DIR

PASS, FAIL, REPORTED, PENDING, ERROR = "pass", "FAIL", "reported", "pending", "error"


@dataclass(slots=True)
class Row:
    operation: str  # "webhook ingest"
    metric: str  # "requests/s (32 senders)"
    unit: str  # "req/s", "ms", "MiB", "orders/s", "%", "commands"
    ours: float | None
    baseline: float | None
    target: str  # human-readable
    status: str  # pass / FAIL / reported / pending / error
    ratio: float | None = None  # ours / baseline
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    mode: str  # "quick" | "full" | "tiny"
    started_at: str
    seconds: float = 0.0
    parameters: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        if row.ratio is None and row.ours is not None and row.baseline:
            row.ratio = row.ours / row.baseline
        self.rows.append(row)
        return row

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["machine"] = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        }
        return data


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms",):
        return f"{value:.2f} ms"
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "commands":
        return f"{value:.0f}"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def table_rows(report: Report) -> list[list[str]]:
    rows = [["operation", "metric", "ours", "baseline", "ratio", "target", "result"]]
    for row in report.rows:
        ours = row.details.get("ours_text") or _number(row.ours, row.unit)
        rows.append(
            [
                row.operation,
                row.metric,
                ours,
                _number(row.baseline, row.unit),
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
                row.target,
                row.status,
            ]
        )
    return rows


def render_table(report: Report) -> str:
    """A Markdown table (readable as plain text too)."""
    rows = table_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in rows[1:])
    for row in report.rows:
        if row.note:
            out.append(f"- {row.operation} / {row.metric}: {row.note}")
    for note in report.notes:
        out.append(f"- {note}")
    if report.pending:
        out.append("- pending (code not there yet): " + ", ".join(report.pending))
    return "\n".join(out)


def write_json(report: Report, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """`bench/results/<UTC timestamp>-<mode>.json` and `latest.json` (the same content)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report.as_dict(), indent=2, default=str) + "\n"
    path = directory / f"{stamp}-{report.mode}.json"
    path.write_text(text)
    latest = directory / "latest.json"
    latest.write_text(text)
    return path, latest
