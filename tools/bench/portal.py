"""`rms bench` portal: the storefront returns portal's page shell (`GET /portal/{shop}`) against
the same bytes served as a static file, and what a first visit downloads.

- Server time: our service in its own process (`tools.bench.serve ours`, on the bench database,
  the first fixture tenant's shop) answers the page. Its bytes, fetched once, are written to a
  file that `python -m tools.bench.portal PORT FILE` serves with the same stack (uvicorn, one
  worker, the same options; Starlette, which FastAPI is built on): as a `FileResponse` (the
  baseline: a static file), and from memory (a `Response` of the bytes: the server's floor,
  reported). Sequential GETs, one keep-alive connection per route, interleaved in rounds so the
  machine's noise falls on every route alike. The client is `http.client`: httpx would add its
  own ~0.2 ms to both sides and pull the ratio towards 1.
- First load: the shell and the two assets it links to, fetched as a browser would, with
  `Accept-Encoding: gzip`; the bodies' bytes as sent.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tools.bench.load import percentile
from tools.bench.process import ServerProcess, serving_process
from tools.bench.report import FAIL, PASS, REPORTED, Report, Row
from tools.devdb import free_port

if TYPE_CHECKING:
    from tools.bench.harness import Stack

HTML = "text/html; charset=utf-8"
FILE_PATH = "/static/portal.html"
MEMORY_PATH = "/memory/portal.html"
# What a browser sends; French first, so the page negotiates a locale other than the shop's.
BROWSER_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Accept-Language": "fr-CH,fr;q=0.9,en;q=0.8",
    "Accept-Encoding": "gzip, deflate",
}
ROUND = 25  # requests to one route before the next route's turn
WARMUP = 20  # per route, not recorded: the page's first answers fill the process's caches
RATIO_LIMIT = 2.0
FIRST_LOAD_LIMIT_KB = 150.0
ASSET_LINK = re.compile(r'(?:href|src)="([^"]+/portal\.(?:css|js)\?[^"]*)"')


def create_static_app(page: Path) -> Starlette:
    body = page.read_bytes()

    async def from_file(request: Request) -> Response:
        return FileResponse(page, media_type=HTML)

    async def from_memory(request: Request) -> Response:
        return Response(body, media_type=HTML)

    return Starlette(routes=[Route(FILE_PATH, from_file), Route(MEMORY_PATH, from_memory)])


@contextlib.contextmanager
def _static_server(page: Path, workdir: Path) -> Iterator[int]:
    """The port of `python -m tools.bench.portal PORT FILE`, serving `page`."""
    port = free_port()
    argv = ["tools.bench.portal", str(port), str(page)]
    with serving_process(argv, port, workdir / f"static-{port}.log", "the static server"):
        yield port


@dataclass(slots=True)
class Series:
    """One route, timed over a keep-alive connection of its own."""

    name: str
    port: int
    path: str
    expected: bytes
    samples: list[float] = field(default_factory=list)  # seconds
    connection: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self) -> float:
        started = time.perf_counter()
        self.connection.request("GET", self.path, headers=BROWSER_HEADERS)
        response = self.connection.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
        if response.status != 200 or body != self.expected:
            raise RuntimeError(f"{self.name}: {response.status}, {len(body)} bytes")
        return seconds

    def p(self, fraction: float) -> float:
        return percentile(sorted(self.samples), fraction) * 1000


def _fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET with a browser's headers on a new connection; the body as sent (not decoded)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=BROWSER_HEADERS)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _first_load(
    port: int, shell: bytes, headers: dict[str, str]
) -> dict[str, dict[str, int | str]]:
    """Bytes of each body of a first visit: the shell (as fetched), then the assets at the URLs
    it names."""
    loaded: dict[str, dict[str, int | str]] = {
        "shell": {"bytes": len(shell), "encoding": headers.get("content-encoding", "identity")}
    }
    links = ASSET_LINK.findall(shell.decode())
    if len(links) != 2:
        raise RuntimeError(f"the shell should link portal.css and portal.js, found {links}")
    for link in links:
        status, headers, body = _fetch(port, link)
        if status != 200:
            raise RuntimeError(f"{link} answered {status}")
        name = urlsplit(link).path.rsplit("/", 1)[-1]
        loaded[name] = {"bytes": len(body), "encoding": headers.get("content-encoding", "identity")}
    return loaded


def _interleaved(series: list[Series], requests: int) -> None:
    """`requests` recorded GETs per route in rounds of `ROUND`, the order of the routes
    reversed every other round so that none always follows the same one."""
    for one in series:
        for _ in range(WARMUP):
            one.get()
    for index in range((requests + ROUND - 1) // ROUND):
        for one in series if index % 2 == 0 else series[::-1]:
            for _ in range(min(ROUND, requests - len(one.samples))):
                one.samples.append(one.get())


def measure_portal(stack: Stack, env: dict[str, str], report: Report) -> None:
    from tools.bench.harness import log  # the harness imports this module

    requests = stack.config.portal_requests
    page_path = f"/portal/{stack.fixtures.tenants[0].shop_domain}"
    with ServerProcess("ours", env, stack.workdir) as ours:
        status, headers, page = _fetch(ours.port, page_path)
        if status != 200:
            raise RuntimeError(f"{page_path} answered {status}: {page[:200]!r}")
        static_file = stack.workdir / "portal.html"
        static_file.write_bytes(page)
        loaded = _first_load(ours.port, page, headers)
        with _static_server(static_file, stack.workdir) as static_port:
            series = [
                Series("page", ours.port, page_path, page),
                Series("static file", static_port, FILE_PATH, page),
                Series("memory", static_port, MEMORY_PATH, page),
            ]
            log(f"portal page: {requests} GETs each of the page, the file and the bytes")
            try:
                _interleaved(series, requests)
            finally:
                for one in series:
                    one.connection.close()
    _rows(report, requests, series, loaded, len(page))


def _rows(
    report: Report,
    requests: int,
    series: list[Series],
    loaded: dict[str, dict[str, int | str]],
    page_bytes: int,
) -> None:
    page, static, memory = series
    operation = f"portal page shell (GET /portal/{{shop}}, {page_bytes:,} bytes)"

    def metric(what: str) -> str:
        return f"{what} (1 sender, {requests} GETs, interleaved)"

    ratio = page.p(0.50) / static.p(0.50)
    report.add(
        Row(
            operation,
            metric("p50"),
            "ms",
            page.p(0.50),
            static.p(0.50),
            f"<= {RATIO_LIMIT:g}x static file",
            PASS if ratio <= RATIO_LIMIT else FAIL,
            note="baseline: the same bytes as a static file (Starlette FileResponse, same "
            "uvicorn options)",
            details={
                name: {"p50_ms": one.p(0.50), "p95_ms": one.p(0.95), "max_ms": one.p(1.0)}
                for name, one in (("ours", page), ("static_file", static), ("memory", memory))
            },
        )
    )
    report.add(
        Row(
            operation,
            metric("p95"),
            "ms",
            page.p(0.95),
            static.p(0.95),
            "reported",
            REPORTED,
        )
    )
    report.add(
        Row(
            operation,
            metric("p50 against the bytes from memory"),
            "ms",
            page.p(0.50),
            memory.p(0.50),
            "reported: the server's floor",
            REPORTED,
        )
    )
    total_kb = sum(int(one["bytes"]) for one in loaded.values()) / 1000
    report.add(
        Row(
            "portal first load (shell + portal.js + portal.css)",
            "bytes transferred, Accept-Encoding: gzip",
            "KB",
            total_kb,
            None,
            f"<= {FIRST_LOAD_LIMIT_KB:g} KB",
            PASS if total_kb <= FIRST_LOAD_LIMIT_KB else FAIL,
            note="; ".join(
                f"{name} {int(one['bytes']) / 1000:.1f} KB ({one['encoding']})"
                for name, one in loaded.items()
            ),
            details={"resources": loaded},
        )
    )


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print("usage: python -m tools.bench.portal PORT FILE", file=sys.stderr)
        return 2
    app = create_static_app(Path(args[1]))
    # The options of `tools.bench.serve`, so both sides run the same server.
    uvicorn.run(app, host="127.0.0.1", port=int(args[0]), log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
