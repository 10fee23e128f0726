"""Helpers for the web tests: a sample archive, hostile records, a real server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from archive import Archive
from archive.embedding.fake import FakeEmbedder
from archive.ingest.records import RawArticle

SAMPLE = Path(__file__).resolve().parents[1] / "archive" / "sample"
HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
HOSTILE_TEXT = (
    'Shelling near <b onmouseover="window.__pwned=3">Avdiivka</b> </blockquote><script>window.__pwned=4</script>'
)


def sample_archive(path: Path) -> Archive:
    """An archive of the bundled sample, embedded with the fake embedder."""
    archive = Archive.open(path, embedder=FakeEmbedder())
    archive.ingest([SAMPLE])
    return archive


def hostile_records() -> list[RawArticle]:
    """Articles whose title, URL, outlet and text try to inject markup and script links."""
    return [
        RawArticle(
            title=HOSTILE_TITLE,
            text=HOSTILE_TEXT + " Artillery hit the coke plant again on Tuesday, officials said.",
            url="javascript:window.__pwned=5",
            outlet='Evil "Outlet" <i>',
            published="2024-02-01",
        ),
        RawArticle(
            title="A plain report on Avdiivka shelling",
            text="Shelling near Avdiivka continued overnight, the regional governor said on Wednesday.",
            url="https://news.example.org/avdiivka",
            outlet="Plain News",
            published="2024-02-02",
        ),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
