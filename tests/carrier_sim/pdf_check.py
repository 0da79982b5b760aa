"""A strict little reader of the simulator's label PDFs: structure, cross-references, text."""

from __future__ import annotations

import re


def read_pdf(data: bytes) -> list[str]:
    """Check the file's structure as a PDF reader relies on it; return its text strings."""
    assert data.startswith(b"%PDF-1.4\n")
    assert data.rstrip().endswith(b"%%EOF")
    start = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[start : start + 4] == b"xref", "startxref must point at the xref table"
    lines = data[start:].split(b"\n")
    first, count = (int(value) for value in lines[1].split())
    assert first == 0
    entries = lines[2 : 2 + count]
    assert entries[0] == b"0000000000 65535 f "
    for number, entry in enumerate(entries[1:], start=1):
        assert len(entry) + 1 == 20, "xref entries are 20 bytes"
        offset, generation, kind = entry.split()
        assert kind == b"n" and generation == b"00000"
        assert data[int(offset) :].startswith(f"{number} 0 obj".encode()), number
    trailer = b"\n".join(lines[2 + count :])
    assert re.search(rb"/Size %d\b" % count, trailer)
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))  # type: ignore[union-attr]
    root_at = int(entries[root].split()[0])
    assert b"/Type /Catalog" in data[root_at : root_at + 200]

    stream = re.search(rb"<< /Length (\d+) >>\nstream\n", data)
    assert stream is not None
    length = int(stream.group(1))
    content = data[stream.end() : stream.end() + length]
    assert data[stream.end() + length :].startswith(b"endstream")
    texts = re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", content)
    return [re.sub(rb"\\(.)", rb"\1", text).decode("cp1252") for text in texts]
