"""Known-item evaluation over the whole ukraine_media set: does search find the article a reader means?

    python scripts/eval.py --only known          (called from eval.py; this module has no CLI of its own)

The archive holds all 11,117 ukraine_media articles ingested with the default options (a
``archive ingest`` of the .jsonl.gz, then ``archive clean``), kept under ``<home>/eval/``.
Queries (``scripts/known_items.json``) were written by reading single articles, in other words
than the article's (a third share almost no content words with it); the wanted item is that
article or any copy the archive linked to it. Per mode the table reports MRR@10, hits@1 and
hits@10 over the known items, and on every top 10 (known items and the 32 topic queries of
``news_queries.json``): results that repeat an article listed higher ("same-article"), results
whose passage repeats a higher result's text ("duplicate passages": 8-gram containment >= 0.5,
whatever the chunk boundaries), and results whose passage is outlet furniture (FURNITURE below,
patterns written from reading the data, independent of the cleaner's learned boilerplate); and
the share of all stored passages holding furniture.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archive import Archive, SearchResult  # noqa: E402
from archive.dedup.overlap import containment, spans  # noqa: E402

KNOWN_ITEMS = Path(__file__).resolve().parent / "known_items.json"
FULL_DB = "ukraine-full.db"
# Outlet furniture seen in ukraine_media passages (sign-ups, external-site disclaimers, reader
# call-outs, bios, promos). Deliberately not the cleaner's rules: this measures what is left.
FURNITURE = re.compile(
    "|".join(
        (
            r"sign up (?:to|for) (?:our|the)\b[^.]{0,80}(?:newsletter|bulletin|email|alerts?)",
            r"not responsible for the content of external (?:sites|internet sites)",
            r"\bnewsletter\b[^.]{0,60}\b(?:sign up|subscribe|inbox)",
            r"(?:email|e-mail) (?:us|me) at\b|\bemail [a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}",
            r"we use your sign-up to provide content",
            r"download the [a-z ]{0,30}app\b|listen to [a-z ]{0,40}podcast",
            r"follow (?:us|him|her) on (?:twitter|facebook|instagram)",
            r"(?:is|was) (?:a|an) [a-z ]{0,40}(?:correspondent|reporter|editor) (?:for|at) [A-Z][a-z]+",
            r"this (?:article|story) (?:was|has been) (?:updated|amended|corrected)",
            r"click here to (?:read|sign|subscribe|get)",
            r"read more:",
            r"our privacy notice|privacy policy",
        )
    ),
    re.IGNORECASE,
)
MODES = ("semantic", "keyword", "hybrid")


def is_furniture(text: str) -> bool:
    return FURNITURE.search(text) is not None


def result_ids(hit: SearchResult, id_by_url: dict[str, str]) -> set[str]:
    """ukraine_media ids of every article a result stands for (its sources)."""
    return {id_by_url[s.url] for s in hit.sources if s.url in id_by_url} | (
        {id_by_url[hit.url]} if hit.url in id_by_url else set()
    )


def top10_faults(hits: Sequence[SearchResult], id_by_url: dict[str, str]) -> dict[str, int]:
    """Same-article repeats, duplicate passages and furniture passages among the first ten results."""
    seen_articles: set[str] = set()
    seen_spans: list[frozenset[int]] = []
    faults = {"same_article": 0, "duplicate": 0, "furniture": 0}
    for hit in hits[:10]:
        ids = result_ids(hit, id_by_url)
        faults["same_article"] += bool(ids & seen_articles)
        seen_articles |= ids
        mine = spans(hit.text)
        faults["duplicate"] += any(containment(mine, other) >= 0.5 for other in seen_spans)
        seen_spans.append(mine)
        faults["furniture"] += is_furniture(hit.text)
    return faults


def furniture_share(archive: Archive) -> tuple[int, int]:
    """(passages holding furniture, passages) over the whole archive."""
    from sqlalchemy import text

    total = bad = 0
    with archive.engine.connect() as conn:
        for (passage,) in conn.execute(text("SELECT text FROM chunks")):
            total += 1
            bad += is_furniture(passage)
    return bad, total


def evaluate(
    archive: Archive, id_by_url: dict[str, str], copies: dict[str, set[str]], topics: list[str], *, txtai: dict | None
) -> list[dict[str, object]]:
    """One row per mode (and per txtai run when given)."""
    items = json.loads(KNOWN_ITEMS.read_text())
    rows = []
    for mode in MODES:
        started, ranks, faults = time.perf_counter(), [], {"same_article": 0, "duplicate": 0, "furniture": 0}
        per_kind: dict[str, list[int | None]] = {}
        for item in items:
            wanted = copies.get(item["article"], {item["article"]})
            hits = archive.search(item["query"], k=10, mode=mode)
            rank = next((n for n, h in enumerate(hits, 1) if result_ids(h, id_by_url) & wanted), None)
            ranks.append(rank)
            per_kind.setdefault(item["kind"], []).append(rank)
            for key, value in top10_faults(hits, id_by_url).items():
                faults[key] += value
        for query in topics:
            for key, value in top10_faults(archive.search(query, k=10, mode=mode), id_by_url).items():
                faults[key] += value
        ms = 1000 * (time.perf_counter() - started) / (len(items) + len(topics))
        rows.append(
            {
                "run": mode,
                **metrics(ranks),
                **{f"{k} MRR@10": metrics(v)["MRR@10"] for k, v in per_kind.items()},
                **faults,
                "ms/query": ms,
            }
        )
    if txtai:
        for name, ranking in txtai.get("runs", {}).items():
            ranks = []
            for item in items:
                wanted = copies.get(item["article"], {item["article"]})
                ranked = ranking.get(item["query"], [])[:10]
                ranks.append(next((n for n, a in enumerate(ranked, 1) if a in wanted), None))
            rows.append({"run": f"txtai {name}", **metrics(ranks)})
    return rows


def metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {
        "MRR@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        "hits@1": sum(r == 1 for r in ranks) / n,
        "hits@10": sum(r is not None and r <= 10 for r in ranks) / n,
    }


def print_rows(rows: Sequence[dict[str, object]], share: tuple[int, int], note: str) -> None:
    cols = ["MRR@10", "hits@1", "hits@10", "described MRR@10", "paraphrase MRR@10"]
    counts = ["same_article", "duplicate", "furniture"]
    print(f"{'run':<16} " + " ".join(f"{c:>18}" for c in cols + counts))
    for row in rows:
        cells = [f"{row[c]:18.3f}" if c in row else f"{'':>18}" for c in cols]  # type: ignore[str-format]
        cells += [f"{row[c]:18d}" if c in row else f"{'':>18}" for c in counts]  # type: ignore[str-format]
        print(f"{row['run']!s:<16} " + " ".join(cells))
    bad, total = share
    print(f"furniture: {bad} of {total} stored passages ({100 * bad / max(1, total):.3f}%); {note}")
