"""A benchmarked server in its own process: started, health-checked, measured, stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

from tools.devdb import free_port, stop_process_group


def read_status_kib(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current RSS)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


PORT_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """The chosen port was bound by someone else before the server could."""


class ServerProcess:
    """`python -m tools.bench.serve <which> <port>` with the given environment."""

    def __init__(self, which: str, env: dict[str, str], workdir: Path) -> None:
        self.which = which
        self.port = free_port()
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / f"{which}-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start and wait until healthy. A free port can be taken by another process before the
        server binds it (a race with whatever else runs on the machine): then a new port."""
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                return self._start(timeout)
            except PortTaken:
                self.port = free_port()
                self.log_path = self.workdir / f"{self.which}-{self.port}.log"
        return self._start(timeout)

    def _start(self, timeout: float) -> ServerProcess:
        env = {**os.environ, **self.env}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tools.bench.serve", self.which, str(self.port)],
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                if "address already in use" in self.log_tail():
                    raise PortTaken(self.port)
                raise RuntimeError(
                    f"{self.which} server exited: see {self.log_path}\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(f"{self.url}/api/health", timeout=2.0, trust_env=False).status_code
                    == 200
                ):
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.which} server did not become healthy: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def peak_rss_mib(self) -> float | None:
        kib = read_status_kib(self.pid, "VmHWM")
        return None if kib is None else kib / 1024

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        stop_process_group(process, timeout)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def serving_process(argv: list[str], port: int, log_path: Path, what: str) -> Iterator[int]:
    """`argv` (a Python module serving on `port`) in a process group of its own, its output in
    `log_path`; yields once the port answers (20 s at most), stops the group afterwards."""
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            stdout=output,
            stderr=output,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: see {log_path}")
            time.sleep(0.05)
        yield port
    finally:
        stop_process_group(process)
