"""Helpers shared by the tests: a time limit per case, scriptable local HTTP servers, synthetic articles,
plain SQL on a database file."""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from archive import RawArticle
from archive.embedding.fake import FakeEmbedder
from archive.store.sqlite.driver import pick_driver

CASE_TIMEOUT_S = 30  # a case that takes longer is a hang, whatever the machine's load


class Hang(AssertionError):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: int = CASE_TIMEOUT_S) -> Iterator[None]:
    """Fail with :class:`Hang` when the block runs longer than ``seconds`` (main thread only, via SIGALRM)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    outer_left = signal.alarm(seconds)  # nested in another limit: put that one back afterwards
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.alarm(max(1, outer_left - int(time.monotonic() - started)))


Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def local_server(routes: dict[str, Handler], host: str = "127.0.0.1") -> Iterator[str]:
    """An HTTP server on ``host`` (a loopback address), answering each path with its handler; yields its base URL."""

    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handler = routes.get(self.path.split("?")[0])
            if handler is None:
                self.send_error(404)
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as tested
                handler(self)

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            return

    httpd = ThreadingHTTPServer((host, 0), RequestHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def send(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200) -> Handler:
    """A handler answering with ``body``."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    """A handler redirecting to ``location``."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handler


OUTLETS = ("Wire", "Daily", "Gazette")
PLACES = ("Kharkiv", "Odesa", "Sumy", "Kherson", "Mariupol", "Bakhmut", "Izium", "Lyman")
EVENTS = ("shelling", "drone strike", "evacuation", "aid delivery", "power outage", "prisoner exchange")


def synthetic_articles(path: Path, count: int = 60) -> Path:
    """A JSON Lines file of ``count`` distinct articles over three outlets, two languages and two years."""
    rng = random.Random(7)
    lines = []
    for n in range(count):
        place, event = PLACES[n % len(PLACES)], EVENTS[n % len(EVENTS)]
        words = " ".join(
            rng.choice(("residents", "officials", "reported", "overnight", "district", "city")) for _ in range(30)
        )
        lines.append(
            {
                "title": f"{event.title()} in {place}, report {n}",
                "text": f"Article {n}: a {event} in {place} was reported. {words}. Story number {n} ends here.",
                "outlet": OUTLETS[n % 3],
                "url": f"https://example.org/{n}",
                "published": f"{2022 + n // 30}-{1 + n % 12:02d}-{1 + n % 27:02d}",
                "language": "uk" if n % 5 == 0 else "en",
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


REPORT_CITIES = ("Kharkiv", "Odesa", "Mariupol", "Kherson", "Lviv", "Dnipro", "Sumy", "Mykolaiv", "Izium", "Bucha")
REPORT_EVENTS = ("shelling", "grain ships", "drone strike", "peace talks", "evacuation", "blackout", "prisoner swap")


def city_reports(first: int, count: int) -> list[RawArticle]:
    """Articles ``first`` .. ``first + count - 1``: two paragraphs of events in cities, four outlets, two languages."""
    cities, events = REPORT_CITIES, REPORT_EVENTS
    return [
        RawArticle(
            title=f"Report {i}",
            text=(
                f"{events[i % 7].capitalize()} in {cities[i % 10]} on day {i}. Witnesses near {cities[(i * 3) % 10]} "
                f"described {events[(i * 5) % 7]} and code{i}.\n\nA second paragraph about {events[(i + 2) % 7]} "
                f"with detail{i} from {cities[(i + 4) % 10]}."
            ),
            outlet=f"Outlet {i % 4}",
            published=f"2022-{1 + i % 12:02d}-{1 + i % 27:02d}",
            language="uk" if i % 5 == 0 else "en",
            url=f"https://example.org/{i}",
        )
        for i in range(first, first + count)
    ]


def run_sql(db: Path, statement: str) -> None:
    """Run and commit one statement on the SQLite file ``db`` with the archive's own driver (a second
    SQLite library in one process would release the archive's POSIX locks)."""
    conn = pick_driver().module.connect(str(db))
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def downgrade_then_upgrade(path: Path, revision: str) -> None:
    """Take the SQLite archive at ``path`` down to schema ``revision`` (alembic), then back up to head."""
    from alembic import command

    from archive.store import migrate
    from archive.store.sqlite.engine import create_archive_engine

    engine = create_archive_engine(path)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    migrate.upgrade(engine)
    engine.dispose()


class Bfloat16Fake(FakeEmbedder):
    """The fake embedder, saying its passages are embedded in bfloat16 (as the real model's ``precision``)."""

    precision = "bfloat16"


def mapped_resident(path: Path) -> int:
    """Bytes of ``path`` resident in this process through its memory maps (every mapping, summed; Linux's
    ``/proc/self/smaps``)."""
    total, current = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            fields = line.split(maxsplit=5)
            current = len(fields) == 6 and fields[5].strip() == str(path)
        elif current and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total
