"""The load generator, run in its own process: `python -m tools.bench.load SPEC.json`.

N concurrent senders share one httpx.AsyncClient (keep-alive, one connection each) and walk a
list of prepared requests; the run stops at `max_requests` or `max_seconds`, whichever comes
first. Only loopback targets are accepted. Prints one JSON object: requests/s, p50, p99, ...
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # base64 of the raw bytes

    @classmethod
    def with_bytes(
        cls, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> PreparedRequest:
        encoded = base64.b64encode(body).decode() if body is not None else None
        return cls(method, path, headers, encoded)


@dataclass(frozen=True, slots=True)
class LoadSpec:
    url: str
    requests: list[PreparedRequest]
    concurrency: int
    max_requests: int
    max_seconds: float
    warmup: int = 0  # requests sent (and not measured) before the run


@dataclass(slots=True)
class LoadResult:
    requests: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    concurrency: int = 0
    first_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise ValueError(f"load is only ever sent to loopback addresses, not {host!r}")


async def _run(spec: LoadSpec) -> LoadResult:
    check_loopback(spec.url)
    prepared = [
        (
            r.method,
            spec.url + r.path,
            r.headers,
            base64.b64decode(r.body) if r.body is not None else None,
        )
        for r in spec.requests
    ]
    if not prepared:
        raise ValueError("no requests to send")
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    result = LoadResult(concurrency=spec.concurrency)
    latencies: list[float] = []
    next_index = 0

    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as http:

        async def sender(budget: int, deadline: float, record: bool) -> None:
            nonlocal next_index
            while next_index < budget and time.perf_counter() < deadline:
                method, url, headers, body = prepared[next_index % len(prepared)]
                next_index += 1
                started = time.perf_counter()
                try:
                    response = await http.request(method, url, headers=headers, content=body)
                    status = str(response.status_code)
                    ok = response.status_code < 400
                    if not ok and result.first_error is None and record:
                        result.first_error = f"{status}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    status, ok = type(exc).__name__, False
                    if result.first_error is None and record:
                        result.first_error = repr(exc)[:300]
                elapsed = time.perf_counter() - started
                if record:
                    latencies.append(elapsed)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if not ok:
                        result.errors += 1

        async def phase(count: int, seconds: float, record: bool) -> float:
            nonlocal next_index
            budget = next_index + count
            started = time.perf_counter()
            deadline = started + seconds
            await asyncio.gather(
                *(sender(budget, deadline, record) for _ in range(spec.concurrency))
            )
            return time.perf_counter() - started

        if spec.warmup:
            await phase(spec.warmup, spec.max_seconds, record=False)
        result.seconds = await phase(spec.max_requests, spec.max_seconds, record=True)

    latencies.sort()
    result.requests = len(latencies)
    result.rps = result.requests / result.seconds if result.seconds else 0.0
    result.p50_ms = percentile(latencies, 0.50) * 1000
    result.p90_ms = percentile(latencies, 0.90) * 1000
    result.p99_ms = percentile(latencies, 0.99) * 1000
    result.max_ms = (latencies[-1] if latencies else 0.0) * 1000
    result.mean_ms = (sum(latencies) / len(latencies) * 1000) if latencies else 0.0
    return result


def load_spec(path: Path) -> LoadSpec:
    raw = json.loads(path.read_text())
    raw["requests"] = [PreparedRequest(**r) for r in raw["requests"]]
    return LoadSpec(**raw)


def run_load(spec: LoadSpec, workdir: Path, name: str) -> LoadResult:
    """Run the generator in a child process (so it never shares a CPU with the harness)."""
    check_loopback(spec.url)
    path = workdir / f"load-{name}.json"
    path.write_text(json.dumps(asdict(spec)))
    completed = subprocess.run(
        [sys.executable, "-m", "tools.bench.load", str(path)],
        capture_output=True,
        text=True,
        timeout=spec.max_seconds * 2 + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed: {completed.stderr[-2000:]}")
    return LoadResult(**json.loads(completed.stdout))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m tools.bench.load SPEC.json", file=sys.stderr)
        return 2
    spec = load_spec(Path(args[0]))
    try:
        import uvloop

        result = uvloop.run(_run(spec))
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        result = asyncio.run(_run(spec))
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
