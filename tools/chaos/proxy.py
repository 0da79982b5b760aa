"""A loopback TCP proxy that can stall: the connection stays open but no byte gets through.

This is what a network partition or a frozen primary looks like to a client, and unlike a
killed database it gives no error at all: only timeouts end the wait. The proxy runs its own
event loop in a daemon thread, so an app (or test) loop that is itself stuck cannot stall the
proxy, and `stall()`/`resume()` can be called from any thread.

    proxy = StallingProxy("127.0.0.1", database_port).start()
    proxy.stall()      # existing and new connections: accepted, kept open, nothing forwarded
    proxy.resume()     # what was held back is delivered, then bytes flow again
    proxy.stop()

While stalled, a direction holds at most one chunk it had already read; the rest waits in the
kernel's socket buffers, so senders feel back-pressure as they would on a real partition. A
close is held back too: the far side learns of it only after `resume()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from types import TracebackType
from typing import Any, Self

CHUNK_BYTES = 64 * 1024
CONTROL_TIMEOUT_SECONDS = 5.0


class StallingProxy:
    """Forwards `127.0.0.1:<port>` to `target_host:target_port` until told to stall."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def open_connections(self) -> int:
        """Client connections accepted and not yet closed."""
        return len(self._connections)

    # Lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = CONTROL_TIMEOUT_SECONDS) -> Self:
        """Listen on a free loopback port (`self.port`) and start forwarding."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_loop, args=(loop,), name=f"stalling-proxy:{self.port}", daemon=True
        )
        self._thread.start()
        self._call(self._listen(sock), timeout)
        return self

    def stop(self, timeout: float = CONTROL_TIMEOUT_SECONDS) -> None:
        """Close the listener and every forwarded connection; stop the proxy's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._shutdown(), timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Faults ------------------------------------------------------------------------------------
    def stall(self) -> None:
        """Stop forwarding in both directions, on open and new connections; keep sockets open.

        Returns once the proxy's loop has applied it: no byte read afterwards gets through.
        """
        self._call(self._set_flowing(False))

    def resume(self) -> None:
        """Deliver what was held back and forward again."""
        self._call(self._set_flowing(True))

    @contextlib.asynccontextmanager
    async def stalled(self, seconds: float) -> AsyncIterator[None]:
        """`async with proxy.stalled(6):` stall, run the body, and resume `seconds` after the
        stall began (or when the body ends, if it took longer)."""
        began = time.monotonic()
        await asyncio.to_thread(self.stall)
        try:
            yield
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
        finally:
            await asyncio.to_thread(self.resume)

    # Inside the proxy's loop -------------------------------------------------------------------
    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _call(
        self, action: Coroutine[Any, Any, None], timeout: float = CONTROL_TIMEOUT_SECONDS
    ) -> None:
        """Run `action` on the proxy's loop and wait for it."""
        if self._loop is None:
            action.close()
            raise RuntimeError("the proxy is not running")
        asyncio.run_coroutine_threadsafe(action, self._loop).result(timeout)

    async def _set_flowing(self, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _listen(self, sock: socket.socket) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve_connection, sock=sock)

    async def _shutdown(self) -> None:
        # Handlers end on their own once their sockets close; cancelling them instead makes
        # asyncio's stream machinery log the cancellation as an error.
        if self._server is not None:
            self._server.close()
        assert self._flowing is not None
        self._flowing.set()
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve_connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(client_writer)
        try:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                await self._gate()  # even a refused connection shows only once bytes flow
                return
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pump(client_reader, upstream_writer),
                self._pump(upstream_reader, client_writer),
            )
        finally:
            client_writer.close()
            self._writers.discard(client_writer)
            self._connections.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction through the gate; its end (or an error) closes the other side."""
        try:
            while True:
                chunk = await reader.read(CHUNK_BYTES)
                await self._gate()
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        except OSError:
            await self._gate()
        finally:
            writer.close()
            self._writers.discard(writer)

    async def _gate(self) -> None:
        assert self._flowing is not None
        await self._flowing.wait()
