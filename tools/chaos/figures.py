"""The figures a chaos scenario reports, the invariants over them, and the printed tables.

Every scenario counts the same four things, whatever it breaks:

- `acknowledged`: writes the service confirmed to a caller (a webhook answered 2xx, an order a
  sync job reported done, a return or decision answered without error, a refreshed token pair
  Shopify issued, the documents of a restore reported done);
- `stored`: of those, the ones found afterwards (`lost` = acknowledged - stored, must be 0);
- `duplicated`: work that must happen once and happened twice (an event completed twice, an
  order stored twice, a job run by two workers, units reserved twice, a second Shopify return);
- `cross_tenant_reads`: records of another tenant a credential could read (must be 0).

A scenario adds its own broken invariants to `failures` and its counters to `details`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figures:
    """What one scenario run observed. `None` means the scenario does not measure that figure."""

    scenario: str
    acknowledged: int | None = None
    stored: int | None = None
    duplicated: int = 0
    cross_tenant_reads: int | None = None
    failures: list[str] = field(default_factory=list)
    details: dict[str, int | str] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int | None:
        if self.acknowledged is None or self.stored is None:
            return None
        return max(self.acknowledged - self.stored, 0)

    def check(self, holds: bool, failure: str) -> None:
        """Record `failure` unless the invariant `holds`."""
        if not holds:
            self.failures.append(failure)

    def problems(self) -> list[str]:
        """Broken invariants: lost or duplicated writes, cross-tenant reads, the scenario's own."""
        found = []
        if self.lost:
            found.append(f"{self.lost} of {self.acknowledged} acknowledged writes lost")
        if self.duplicated:
            found.append(f"{self.duplicated} duplicated")
        if self.cross_tenant_reads:
            found.append(f"{self.cross_tenant_reads} cross-tenant reads")
        return found + self.failures

    @property
    def ok(self) -> bool:
        return not self.problems()


def _cell(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(line[index]) for line in [header, *rows]) for index in range(len(header))]
    lines = []
    for number, line in enumerate([header, *rows]):
        lines.append(
            "  ".join(
                text.ljust(width) if index in (0, len(header) - 1) else text.rjust(width)
                for index, (text, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def format_table(rows: list[Figures]) -> str:
    """One run: a line per scenario, totals, then any problems and notes."""
    header = ["scenario", "acked", "stored", "lost", "dup", "x-tenant", "secs", "result", "details"]
    cells = [
        [
            row.scenario,
            _cell(row.acknowledged),
            _cell(row.stored),
            _cell(row.lost),
            _cell(row.duplicated),
            _cell(row.cross_tenant_reads),
            _cell(row.seconds),
            "ok" if row.ok else "FAIL",
            " ".join(f"{key}={value}" for key, value in row.details.items()),
        ]
        for row in rows
    ]
    lines = _table(header, cells)
    lost = sum(row.lost or 0 for row in rows)
    duplicated = sum(row.duplicated for row in rows)
    leaked = sum(row.cross_tenant_reads or 0 for row in rows)
    lines.append("")
    lines.append(f"lost writes: {lost}   duplicated: {duplicated}   cross-tenant reads: {leaked}")
    for row in rows:
        for problem in row.problems():
            lines.append(f"FAIL {row.scenario}: {problem}")
        for note in row.notes:
            lines.append(f"note {row.scenario}: {note}")
    return "\n".join(lines)


def format_runs(runs: list[list[Figures]]) -> str:
    """Several runs: per scenario, how many runs passed and the summed figures."""
    by_scenario: dict[str, list[Figures]] = {}
    for rows in runs:
        for row in rows:
            by_scenario.setdefault(row.scenario, []).append(row)
    header = ["scenario", "runs", "passed", "acked", "stored", "lost", "dup", "x-tenant", "slowest"]
    cells = []
    for scenario, rows in by_scenario.items():
        cells.append(
            [
                scenario,
                str(len(rows)),
                str(sum(row.ok for row in rows)),
                str(sum(row.acknowledged or 0 for row in rows)),
                str(sum(row.stored or 0 for row in rows)),
                str(sum(row.lost or 0 for row in rows)),
                str(sum(row.duplicated for row in rows)),
                str(sum(row.cross_tenant_reads or 0 for row in rows)),
                f"{max(row.seconds for row in rows):.1f}s",
            ]
        )
    lines = _table(header, cells)
    failed = [
        (number, row) for number, rows in enumerate(runs, start=1) for row in rows if not row.ok
    ]
    lines.append("")
    lines.append(
        f"{len(runs)} runs, {sum(all(row.ok for row in rows) for rows in runs)} passed whole"
    )
    for number, row in failed:
        for problem in row.problems():
            lines.append(f"FAIL run {number} {row.scenario}: {problem}")
    return "\n".join(lines)
