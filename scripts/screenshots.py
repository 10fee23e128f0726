"""Take the README's screenshots (docs/search.png, docs/timeline.png) of `archive serve` on the demo archive.

scripts/demo.sh                                  # builds demo.db
.venv/bin/python scripts/screenshots.py          # needs /usr/bin/chromium (apt-get install chromium)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=REPO / "demo.db")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--search", default="drones knocked out electricity in Odesa")
    parser.add_argument("--timeline", default="Ukraine")
    args = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "-d", str(args.db), "--port", str(port)], env=env
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/stats", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(base + "/")
            page.fill("input[name=q]", args.search)
            page.click("form.search button[type=submit]")
            page.wait_for_selector("article.result")
            page.screenshot(path=str(args.out / "search.png"))
            page.goto(base + "/timeline?" + httpx.QueryParams({"q": args.timeline, "by": "day"}).__str__())
            page.wait_for_selector("svg.timeline")
            page.screenshot(path=str(args.out / "timeline.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {args.out / 'search.png'} and {args.out / 'timeline.png'}")


if __name__ == "__main__":
    main()
