"""The figures a chaos scenario reports, the invariants over them, and the printed table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figures:
    """What one scenario observed. `None` means the scenario does not measure that figure."""

    scenario: str
    events_sent: int | None = None  # distinct events the simulator tried to deliver to us
    events_acknowledged: int | None = None  # distinct events we answered 2xx
    events_stored: int | None = None  # webhook_events documents
    events_processed: int | None = None  # processed exactly once (completed by one worker)
    events_completed_twice: int | None = None  # completions beyond the first (must be 0)
    jobs_completed: int | None = None
    jobs_resumed: int | None = None  # completed after another worker's lease was taken over
    jobs_duplicated: int | None = None  # a job run twice at once or orders stored twice (0)
    orders_expected: int | None = None
    orders_stored: int | None = None
    cross_tenant_reads: int | None = None  # records of another tenant a credential could read
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Broken invariants: lost or duplicated writes, cross-tenant reads."""
        found = []
        acknowledged, stored = self.events_acknowledged, self.events_stored
        if acknowledged is not None and stored is not None and stored != acknowledged:
            found.append(f"acknowledged {acknowledged} but stored {stored}")
        processed = self.events_processed
        if processed is not None and stored is not None and processed != stored:
            found.append(f"stored {stored} but processed {processed}")
        if self.events_completed_twice:
            found.append(f"{self.events_completed_twice} events completed twice")
        if self.jobs_duplicated:
            found.append(f"{self.jobs_duplicated} duplicated jobs or orders")
        if self.orders_expected is not None and self.orders_stored != self.orders_expected:
            found.append(f"expected {self.orders_expected} orders, stored {self.orders_stored}")
        if self.cross_tenant_reads:
            found.append(f"{self.cross_tenant_reads} cross-tenant reads")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


COLUMNS = [
    ("scenario", "scenario"),
    ("sent", "events_sent"),
    ("acked", "events_acknowledged"),
    ("stored", "events_stored"),
    ("processed", "events_processed"),
    ("dup-done", "events_completed_twice"),
    ("jobs ok", "jobs_completed"),
    ("resumed", "jobs_resumed"),
    ("dup-jobs", "jobs_duplicated"),
    ("orders", "orders_stored"),
    ("of", "orders_expected"),
    ("x-tenant", "cross_tenant_reads"),
    ("secs", "seconds"),
    ("result", None),
]


def _cell(figures: Figures, attribute: str | None) -> str:
    if attribute is None:
        return "ok" if figures.ok else "FAIL"
    value = getattr(figures, attribute)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_table(rows: list[Figures]) -> str:
    """A plain-text table, one line per scenario, then any problems and notes."""
    cells = [[title for title, _ in COLUMNS]]
    cells += [[_cell(row, attribute) for _, attribute in COLUMNS] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(COLUMNS))]
    lines = []
    for number, line in enumerate(cells):
        lines.append(
            "  ".join(
                text.ljust(width) if index == 0 else text.rjust(width)
                for index, (text, width) in enumerate(zip(line, widths, strict=True))
            )
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    totals = Figures("TOTAL")
    for name in (
        "events_sent",
        "events_acknowledged",
        "events_stored",
        "events_processed",
        "events_completed_twice",
        "jobs_completed",
        "jobs_resumed",
        "jobs_duplicated",
        "cross_tenant_reads",
    ):
        values = [getattr(row, name) for row in rows if getattr(row, name) is not None]
        setattr(totals, name, sum(values) if values else None)
    lost = sum(
        (row.events_acknowledged or 0) - (row.events_stored or 0)
        for row in rows
        if row.events_acknowledged is not None
    )
    lines.append("")
    lines.append(
        f"lost writes: {max(lost, 0)}   duplicated: "
        f"{(totals.events_completed_twice or 0) + (totals.jobs_duplicated or 0)}   "
        f"cross-tenant reads: {totals.cross_tenant_reads or 0}"
    )
    for row in rows:
        for problem in row.problems():
            lines.append(f"FAIL {row.scenario}: {problem}")
        for note in row.notes:
            lines.append(f"note {row.scenario}: {note}")
    return "\n".join(lines)
