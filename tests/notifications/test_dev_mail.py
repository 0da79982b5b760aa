"""`rms dev`'s mail server: a real SMTP server that keeps what it receives and lists it on a
page (escaped: a subject is text, not markup)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx

from tools.devdb import free_ports
from tools.devmail import DevMailServer


async def test_the_development_mail_server_keeps_and_lists_what_it_receives() -> None:
    smtp_port, page_port = free_ports(2)
    server = DevMailServer(smtp_port, page_port, echo=False).start()
    try:
        message = EmailMessage()
        message["From"] = "returns@localhost"
        message["To"] = "ada@example.com"
        message["Subject"] = "<b>Your return</b> is approved"
        message.set_content("Send the items back.")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=server.smtp_port)
        async with httpx.AsyncClient() as http:
            page = await http.get(server.page_url)
        assert page.status_code == 200
        assert "&lt;b&gt;Your return&lt;/b&gt; is approved" in page.text
        assert "Send the items back." in page.text and "ada@example.com" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
    finally:
        server.stop()


async def test_the_mail_page_answers_only_to_this_machines_names() -> None:
    smtp_port, page_port = free_ports(2)
    server = DevMailServer(smtp_port, page_port, echo=False).start()
    try:
        async with httpx.AsyncClient() as http:
            rebound = await http.get(server.page_url, headers={"Host": "attacker.example"})
        assert rebound.status_code == 400
    finally:
        server.stop()
