"""A real SMTP server for development (`rms dev`): aiosmtpd on loopback keeps every email it
receives, prints a line for each, and a development-only page lists them with their text.

Nothing leaves the machine: the service's emails to customers and staff land here.
"""

from __future__ import annotations

import email
import email.policy
import html
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tools.shopify_sim.server import ThreadedASGIServer

KEPT = 500  # the newest mails kept


@dataclass
class DevMailServer:
    smtp_port: int
    page_port: int
    echo: bool = True  # print a line per mail
    received: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None
    _page: ThreadedASGIServer | None = None

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.page_port}/"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage):
            return "554 Unreadable message"
        with self.lock:
            self.received.append(parsed)
            del self.received[:-KEPT]
        if self.echo:
            print(f"  mail to {parsed['To']}: {parsed['Subject']}", flush=True)
        return "250 Message accepted for delivery"

    def start(self) -> DevMailServer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.smtp_port)
        self._controller.start()
        self._page = ThreadedASGIServer(_page_app(self), port=self.page_port).start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._page is not None:
            self._page.stop()
            self._page = None


def _page_app(server: DevMailServer) -> Starlette:
    async def index(_request: Request) -> Response:
        with server.lock:
            mails = list(reversed(server.received))
        rows = []
        for mail in mails:
            body = mail.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            rows.append(
                "<article><h2>{}</h2><p>To {} &middot; {}</p><pre>{}</pre></article>".format(
                    html.escape(str(mail["Subject"])),
                    html.escape(str(mail["To"])),
                    html.escape(str(mail["Date"] or "")),
                    html.escape(str(text)),
                )
            )
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Development mail</title></head><body><h1>Development mail "
            f"({len(mails)})</h1>{''.join(rows) or '<p>No mail yet.</p>'}</body></html>"
        )
        return HTMLResponse(
            page,
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    # Only for this machine's names: a page elsewhere that rebinds its own name to 127.0.0.1
    # cannot read the mail.
    return Starlette(
        routes=[Route("/", index)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])],
    )
