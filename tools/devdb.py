"""Start SecantusDB (a MongoDB wire-protocol server) as a subprocess for development and tests.

Installs nothing at run time: `secantusd-py` comes with the `dev` extra (`scripts/setup`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports: each socket stays bound until all are chosen (two
    `free_port()` calls in a row may be given the same port once the first is closed)."""
    with contextlib.ExitStack() as held:
        sockets = [
            held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _server_command() -> list[str]:
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    if not Path(exe).exists():
        raise RuntimeError(
            "secantusd-py not found: install the dev dependencies first (scripts/setup)"
        )
    return [exe]


def stop_process_group(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM a child started with `start_new_session=True` and its group; SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


class EmbeddedDatabase:
    """A SecantusDB server in a child process; `storage_path=None` means in memory."""

    def __init__(
        self,
        *,
        port: int | None = None,
        storage_path: Path | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.storage_path = storage_path
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> EmbeddedDatabase:
        storage = ":memory:"
        if self.storage_path is not None:
            self.storage_path.mkdir(parents=True, exist_ok=True)
            storage = str(self.storage_path)
        args = [
            *_server_command(),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            storage,
            "--log-level",
            "WARNING",
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_until_ready(timeout)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"SecantusDB exited with code {self._process.returncode} during start-up"
                )
            try:
                client: MongoClient[dict[str, object]] = MongoClient(
                    self.uri, serverSelectionTimeoutMS=300
                )
                with client:
                    client.admin.command("ping")
                return
            except PyMongoError as exc:
                last_error = exc
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SecantusDB did not answer ping within {timeout}s: {last_error}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        stop_process_group(process, timeout)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def __enter__(self) -> EmbeddedDatabase:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_database(**kwargs: object) -> Iterator[EmbeddedDatabase]:
    database = EmbeddedDatabase(**kwargs)  # type: ignore[arg-type]
    with database:
        yield database
