"""The files EasyPost hands out: a 4x6 in label PDF, the box-free drop-off QR code PNG, and the
public tracking page.

The PDF is written by hand (PDF 1.4, the base-14 Helvetica fonts, one page) so the simulator
needs no PDF library; its cross-reference table holds the true byte offset of every object, so
strict readers open it. QR codes come from `segno` (a dev dependency, pure Python).
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import segno

from .models import JSON

LABEL_WIDTH = 288  # 4 in, in points
LABEL_HEIGHT = 432  # 6 in
QR_SCALE = 6  # pixels per module of the drop-off QR code
QR_BORDER = 4  # quiet zone, in modules (the QR standard's minimum)


def qr_code(data: str) -> segno.QRCode:
    return segno.make(data, error="m", micro=False)


def qr_png(data: str) -> bytes:
    """A PNG of a QR code of `data` (the tracking code: what a drop-off counter scans)."""
    buffer = io.BytesIO()
    qr_code(data).save(buffer, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return buffer.getvalue()


def _pdf_text(value: str) -> bytes:
    """A PDF literal string: WinAnsi bytes (others become '?'), with its delimiters escaped."""
    raw = value.encode("cp1252", errors="replace")
    raw = bytes(byte if byte >= 0x20 else 0x20 for byte in raw)
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    size: float
    bold: bool
    text: str


def _address_lines(address: JSON) -> list[str]:
    city_line = " ".join(
        part
        for part in (f"{address.get('city') or ''},", address.get("state"), address.get("zip"))
        if part
    )
    lines = [
        address.get("name"),
        address.get("company"),
        address.get("street1"),
        address.get("street2"),
        city_line,
        address.get("country"),
    ]
    return [str(line) for line in lines if line]


def _content(
    carrier: str, service: str, tracking_code: str, from_address: JSON, to_address: JSON
) -> bytes:
    texts = [
        _Text(18, 400, 20, True, carrier),
        _Text(18, 380, 12, False, service),
        _Text(18, 352, 8, True, "FROM:"),
    ]
    y = 340.0
    for line in _address_lines(from_address):
        texts.append(_Text(18, y, 8, False, line))
        y -= 10
    texts.append(_Text(18, 262, 10, True, "SHIP TO:"))
    y = 246.0
    for line in _address_lines(to_address):
        texts.append(_Text(30, y, 12, False, line))
        y -= 15
    texts.append(_Text(18, 60, 9, True, "TRACKING #"))
    texts.append(_Text(18, 44, 12, False, tracking_code))
    parts = [b"1 w 8 8 272 416 re S", b"8 150 m 280 150 l S", b"8 368 m 280 368 l S"]
    for text in texts:
        font = b"/F2" if text.bold else b"/F1"
        parts.append(
            b"BT "
            + font
            + f" {text.size:g} Tf {text.x:g} {text.y:g} Td ".encode()
            + _pdf_text(text.text)
            + b" Tj ET"
        )
    # the tracking code as a QR code too, module by module, where a real label has its barcode
    matrix = qr_code(tracking_code).matrix
    module = 2.4
    left, top = 176.0, 140.0
    for row_number, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                x = left + column * module
                y = top - (row_number + 1) * module
                parts.append(f"{x:.2f} {y:.2f} {module:g} {module:g} re f".encode())
    return b"\n".join(parts) + b"\n"


def pdf_document(objects: Sequence[bytes], root: int, info: int | None = None) -> bytes:
    """A PDF 1.4 file of `objects` (numbered from 1) with an exact cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes, its EOL included
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = f"<< /Size {len(objects) + 1} /Root {root} 0 R"
    if info is not None:
        trailer += f" /Info {info} 0 R"
    out += f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def label_pdf(
    carrier: str, service: str, tracking_code: str, from_address: JSON, to_address: JSON
) -> bytes:
    """A one-page 4x6 in shipping label: carrier, service, both addresses, the tracking code."""
    content = _content(carrier, service, tracking_code, from_address, to_address)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {LABEL_WIDTH} {LABEL_HEIGHT}] "
            "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream",
        b"<< /Title "
        + _pdf_text(f"{carrier} {service} {tracking_code}")
        + b" /Producer (carrier_sim) >>",
    ]
    return pdf_document(objects, root=1, info=7)


def tracking_page(tracker: JSON) -> str:
    """The carrier's public tracking page of a tracker (what `public_url` shows)."""
    rows = "\n".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(str(detail["datetime"])),
            html.escape(str(detail["status"])),
            html.escape(str(detail["message"])),
        )
        for detail in reversed(tracker["tracking_details"])
    )
    code = html.escape(str(tracker["tracking_code"]))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Tracking {code}</title></head>\n<body>\n"
        f"<h1>{html.escape(str(tracker['carrier']))} {code}</h1>\n"
        f'<p id="status">{html.escape(str(tracker["status"]))}</p>\n'
        f"<p>Estimated delivery: {html.escape(str(tracker['est_delivery_date'] or 'unknown'))}</p>\n"
        f"<table>\n<tr><th>When</th><th>Status</th><th>Message</th></tr>\n{rows}\n</table>\n"
        "</body></html>\n"
    )
