#!/usr/bin/env python
"""Measure search quality per mode (semantic / keyword / hybrid) and print one table.

    python scripts/eval.py [--data-dir ../shared/data] [--only scifact|news] [--home .archive-home] [--sweep]

scifact (``scifact/``: BEIR corpus.jsonl, queries.jsonl, qrels/test.tsv)
    Every document is ingested whole (one chunk, truncated by the model at 256
    tokens) as ``title + " " + text``, the text BEIR and MTEB embed. The 300
    test queries are searched with k=100 and dedup off (so near-duplicate
    linking cannot merge two documents); nDCG@10 follows trec_eval (graded
    gain, log2 discount) and recall@100 is the share of judged documents found.
    The published all-MiniLM-L6-v2 figure is nDCG@10 = 64.51 (MTEB).

news (``ukraine_media/ukraine_media_r2nery.jsonl.gz`` + scripts/news_queries.json)
    Hand-written queries about specific events, each with every article judged
    relevant. The archive holds those articles plus a deterministic sample of
    others (``--news-others``), read by the normal reader and ingested with the
    default options (passages, duplicate linking). Scores are per article: a
    passage counts for every article listed in its sources. The judgments were
    gathered by reading the articles that keyword patterns found, so they lean
    towards what keyword search can find.

Databases are built once and kept under ``<home>/eval/`` keyed by a hash of
their inputs, so a rerun only searches; an interrupted build resumes. Building
embeds ~5k SciFact documents and ~16k news passages: on a busy 2-core machine
``ARCHIVE_TORCH_THREADS=1`` made that about twice as fast (10 + 26 minutes).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

from archive import Archive, IngestOptions, RawArticle, SchemaOutOfDateError, SearchResult  # noqa: E402
from archive.embedding.model_files import DEFAULT_MODEL  # noqa: E402
from archive.ingest.readers import read_file  # noqa: E402
from archive.ops.schema import upgrade_path  # noqa: E402
from archive.search.evaluation import mean, mrr_at_k, ndcg_at_k, recall_at_k  # noqa: E402
from archive.store.models import Article  # noqa: E402
from archive.text.clean import clean_article  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_HOME = REPO / ".archive-home"
NEWS_QUERIES = Path(__file__).resolve().parent / "news_queries.json"
NEWS_FILE = Path("ukraine_media") / "ukraine_media_r2nery.jsonl.gz"
SCIFACT_URL = "https://scifact.beir/"
MODES = ("semantic", "keyword", "hybrid")
EVAL_FORMAT = "1"  # bump to rebuild every cached database
# Hybrid settings tried by --sweep: (semantic_weight, keyword_weight).
SWEEP = ((1.0, 0.5), (1.0, 0.75), (1.0, 1.5), (1.0, 2.0), (2.0, 1.0), (1.5, 1.0))


@dataclass(frozen=True)
class Run:
    """One row of the table: a search setting and how to call it."""

    label: str
    mode: str
    semantic_weight: float | None = None
    keyword_weight: float | None = None

    def kwargs(self) -> dict[str, object]:
        extra: dict[str, object] = {"mode": self.mode}
        if self.semantic_weight is not None:
            extra.update(semantic_weight=self.semantic_weight, keyword_weight=self.keyword_weight)
        return extra


def runs_for(sweep: bool) -> list[Run]:
    """The three modes at their defaults, plus the hybrid weight grid when sweeping."""
    runs = [Run(mode, mode) for mode in MODES]
    if sweep:
        runs += [Run(f"hybrid {s:g}:{w:g}", "hybrid", s, w) for s, w in SWEEP]
    return runs


# ---------------------------------------------------------------- databases
def options_key(options: IngestOptions) -> str:
    """The ingest options that change what gets stored (new unrelated fields must not force a rebuild)."""
    fields = ("max_tokens", "overlap_tokens", "near_threshold", "passage_threshold", "whole_documents")
    return ",".join(f"{name}={getattr(options, name)!r}" for name in fields)


def inputs_key(*parts: bytes | str) -> str:
    """A short hash of everything a database is built from."""
    digest = hashlib.sha256()
    for part in (EVAL_FORMAT, DEFAULT_MODEL, *parts):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cached_archive(
    home: Path, name: str, key: str, records: Callable[[], Iterable[RawArticle]], options: IngestOptions
) -> tuple[Archive, dict[str, object]]:
    """Open the cached database for ``key``, building it first if absent; also return its counts.

    A build that was interrupted resumes where it stopped: the archive skips
    what it already stored.
    """
    folder = home / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    db, info_path = folder / f"{name}-{key}.db", folder / f"{name}-{key}.json"
    if not db.exists():
        partial = folder / f"{name}-{key}.partial.db"
        started, counter = time.perf_counter(), _Progress(f"ingest {name}")
        with open_current(partial, home) as archive:
            archive.ingest_records(records(), options=options, progress=counter)
        counter.done()
        partial.rename(db)
        info_path.write_text(json.dumps({"seconds": round(time.perf_counter() - started, 1)}))
    archive = open_current(db, home)
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    return archive, {**archive.stats(), **info}


def open_current(db: Path, home: Path) -> Archive:
    """Open ``db``, first migrating it if the schema moved on since it was built."""
    try:
        archive = Archive.open(db, home=home)
    except SchemaOutOfDateError:
        upgrade_path(str(db), home=str(home))
        archive = Archive.open(db, home=home)
    if archive.embed_articles().embedded:  # an archive built before article vectors: give it them once
        print(f"  {db.name}: article vectors embedded", file=sys.stderr)
    return archive


class _Progress:
    def __init__(self, label: str) -> None:
        self.label, self.count, self.started = label, 0, time.perf_counter()

    def __call__(self, n: int) -> None:
        self.count += n
        if self.count % 250 == 0:
            rate = self.count / max(time.perf_counter() - self.started, 1e-9)
            print(f"  {self.label}: {self.count} articles ({rate:.0f}/s)", file=sys.stderr, flush=True)

    def done(self) -> None:
        print(f"  {self.label}: {self.count} articles in {time.perf_counter() - self.started:.0f}s", file=sys.stderr)


# ---------------------------------------------------------------- scifact
def read_jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {doc id: relevance} from a BEIR qrels TSV (header line skipped)."""
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    return qrels


def scifact_record(doc: dict) -> RawArticle:  # type: ignore[type-arg]
    """The document as BEIR embeds it: ``title + " " + text`` in one chunk.

    The title is also given as the headline: the cleaner then keeps it as the
    article title and does not guess a headline from the body, and since no
    body line equals the title, nothing is removed from the embedded text.
    """
    return RawArticle(
        text=f"{doc['title']} {doc['text']}".strip(),
        title=doc["title"] or None,
        outlet="SciFact",
        url=SCIFACT_URL + doc["_id"],
        origin=f"scifact:{doc['_id']}",
    )


def cleaning_changes(corpus: Sequence[dict]) -> int:  # type: ignore[type-arg]
    """How many documents the cleaner changes beyond whitespace (their embedded text differs from BEIR's)."""
    changed = 0
    for doc in corpus:
        record = scifact_record(doc)
        if " ".join(clean_article(record.text, record.title).text.split()) != " ".join(record.text.split()):
            changed += 1
    return changed


def eval_scifact(data_dir: Path, home: Path, runs: Sequence[Run]) -> list[dict[str, object]]:
    """nDCG@10 and recall@100 per run on the SciFact test queries."""
    folder = data_dir / "scifact"
    corpus = read_jsonl(folder / "corpus.jsonl")
    queries = {q["_id"]: q["text"] for q in read_jsonl(folder / "queries.jsonl")}
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    options = IngestOptions(whole_documents=True)
    key = inputs_key((folder / "corpus.jsonl").read_bytes(), options_key(options))
    archive, info = cached_archive(home, "scifact", key, lambda: (scifact_record(d) for d in corpus), options)
    note = (
        f"{len(corpus)} docs, {len(qrels)} queries; cleaner changed {cleaning_changes(corpus)} texts; "
        f"near-duplicates linked at ingest: {info['near_duplicates']}, exact: {info['exact_duplicates']}; "
        f"built in {info.get('seconds', '?')}s; vectors in {archive.stats()['precision']}"
    )
    rows = []
    with archive:
        for run in runs:
            started, ndcg, recall = time.perf_counter(), [], []
            for qid, judged in qrels.items():
                hits = archive.search(queries[qid], k=100, dedup=False, **run.kwargs())  # type: ignore[arg-type]
                ranked = [h.url.removeprefix(SCIFACT_URL) for h in hits if h.url]
                ndcg.append(ndcg_at_k(ranked, judged, 10))
                recall.append(recall_at_k(ranked, judged, 100))
            ms = 1000 * (time.perf_counter() - started) / len(qrels)
            rows.append(
                {"dataset": "scifact", "run": run.label, "nDCG@10": mean(ndcg), "R@100": mean(recall), "ms/query": ms}
            )
            _log_row(rows[-1])
    rows[0]["note"] = note
    return rows


# ---------------------------------------------------------------- news
def news_subset(records: Sequence[RawArticle], relevant: set[str], others: int) -> list[RawArticle]:
    """Every judged article plus the first ``others`` of the rest by a hash of their id, in file order."""
    rest = sorted(
        (r.extra["id"] for r in records if r.extra["id"] not in relevant),
        key=lambda i: hashlib.sha1(i.encode()).hexdigest(),
    )
    keep = relevant | set(rest[:others])
    return [r for r in records if r.extra["id"] in keep]


def article_ranking(hits: Sequence[SearchResult], id_by_url: dict[str, str]) -> list[str]:
    """Article ids in rank order; a passage counts for every article that carried it."""
    ranked: list[str] = []
    for hit in hits:
        for source in hit.sources or ():
            article = id_by_url.get(source.url or "")
            if article is not None and article not in ranked:
                ranked.append(article)
    return ranked


def eval_news(data_dir: Path, home: Path, runs: Sequence[Run], others: int) -> list[dict[str, object]]:
    """MRR@10 and nDCG@10 per run, at the article level, on the hand-judged news queries."""
    path = data_dir / NEWS_FILE
    queries = json.loads(NEWS_QUERIES.read_text())
    relevant = {a for q in queries for a in q["relevant"]}
    records = [r for r in read_file(path) if isinstance(r, RawArticle)]
    missing = relevant - {r.extra["id"] for r in records}
    if missing:
        raise SystemExit(f"news_queries.json names unknown articles: {', '.join(sorted(missing))}")
    subset = news_subset(records, relevant, others)
    id_by_url = {r.url: r.extra["id"] for r in subset if r.url}
    options = IngestOptions()
    key = inputs_key(path.read_bytes(), ",".join(r.extra["id"] for r in subset), options_key(options))
    archive, info = cached_archive(home, "news", key, lambda: iter(subset), options)
    note = (
        f"{len(subset)} articles ({len(relevant)} judged), {info['chunks']} passages, {len(queries)} queries; "
        f"near-duplicates linked: {info['near_duplicates']}, exact: {info['exact_duplicates']}; built in {info.get('seconds', '?')}s; "
        f"vectors in {archive.stats()['precision']}"
    )
    rows = []
    with archive:
        for run in runs:
            started, mrr, ndcg = time.perf_counter(), [], []
            for query in queries:
                hits = archive.search(query["query"], k=50, **run.kwargs())  # type: ignore[arg-type]
                ranked = article_ranking(hits, id_by_url)
                judged = {a: 1 for a in query["relevant"]}
                mrr.append(mrr_at_k(ranked, judged, 10))
                ndcg.append(ndcg_at_k(ranked, judged, 10))
            ms = 1000 * (time.perf_counter() - started) / len(queries)
            rows.append(
                {"dataset": "news", "run": run.label, "MRR@10": mean(mrr), "nDCG@10": mean(ndcg), "ms/query": ms}
            )
            _log_row(rows[-1])
    rows[0]["note"] = note
    return rows


# ---------------------------------------------------------------- output
def eval_known(data_dir: Path, home: Path, *, with_txtai: bool) -> None:
    """Known items and top-10 faults over the whole ukraine_media set (scripts/eval_known.py), printed."""
    import eval_known

    path = data_dir / NEWS_FILE
    records = [r for r in read_file(path) if isinstance(r, RawArticle)]
    id_by_url = {r.url: r.extra["id"] for r in records if r.url}
    db = home / "eval" / eval_known.FULL_DB
    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open_current(db, home) as archive:
        report = archive.ingest([path], progress=_Progress("ingest ukraine_media"))  # a rerun adds nothing
        cleaned = archive.clean()
        copies = _copy_sets(archive, id_by_url)
        topics = [q["query"] for q in json.loads(NEWS_QUERIES.read_text())]
        txtai = None
        if with_txtai:
            import eval_txtai

            queries = [q["query"] for q in eval_known.all_items()]
            txtai = eval_txtai.run_txtai(queries, data_dir, home, max_tokens=256)  # the model's own 256 tokens
        rows = eval_known.evaluate(archive, id_by_url, copies, topics, txtai=txtai)
        share = eval_known.furniture_share(archive)
        stats = archive.stats()
    note = (
        f"{stats['articles']} articles, {stats['chunks']} passages; this run added {report.added}, "
        f"clean changed {cleaned.changed}; vectors in {stats['precision']}; {time.perf_counter() - started:.0f}s"
    )
    eval_known.print_rows(rows, share, note)


def _copy_sets(archive: Archive, id_by_url: dict[str, str]) -> dict[str, set[str]]:
    """ukraine_media id -> ids of every article in its story (the article and the copies linked to it)."""
    from archive.store.sqlite.reads import article_links

    with Session(archive.engine) as session:
        links = article_links(session)
        urls = {int(r[0]): r[1] for r in session.execute(select(Article.id, Article.url))}
    story: dict[int, int] = {aid: canonical or aid for aid, canonical, _, _ in links}
    members: dict[int, set[str]] = {}
    for aid, root in story.items():
        if urls.get(aid) in id_by_url:
            members.setdefault(root, set()).add(id_by_url[urls[aid]])
    return {rid: group for group in members.values() for rid in group}


def _log_row(row: dict[str, object]) -> None:
    metrics = ", ".join(f"{k} {100 * v:.2f}" for k, v in row.items() if k in ("nDCG@10", "R@100", "MRR@10"))
    print(f"  {row['dataset']} {row['run']}: {metrics}", file=sys.stderr, flush=True)


def print_table(rows: Sequence[dict[str, object]]) -> None:
    """One line per dataset and run; metrics as percentages."""
    metrics = ["nDCG@10", "R@100", "MRR@10"]
    print(f"{'dataset':<8} {'run':<16} " + " ".join(f"{m:>8}" for m in metrics) + f" {'ms/query':>9}")
    for row in rows:
        cells = " ".join(f"{100 * row[m]:8.2f}" if m in row else f"{'':>8}" for m in metrics)  # type: ignore[operator]
        print(f"{row['dataset']:<8} {row['run']:<16} {cells} {row['ms/query']:9.1f}")
    for row in rows:
        if "note" in row:
            print(f"{row['dataset']}: {row['note']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder holding scifact/ and ukraine_media/"
    )
    parser.add_argument("--only", choices=("scifact", "news", "known"), help="run one evaluation")
    parser.add_argument("--no-txtai", action="store_true", help="known items: skip the txtai side-by-side")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="model and eval-database cache")
    parser.add_argument("--news-others", type=int, default=1000, help="unjudged news articles added as distractors")
    parser.add_argument("--sweep", action="store_true", help="also try several hybrid weightings")
    args = parser.parse_args(argv)
    runs = runs_for(args.sweep)
    rows: list[dict[str, object]] = []
    if args.only in (None, "scifact"):
        rows += eval_scifact(args.data_dir, args.home, runs)
    if args.only in (None, "news"):
        rows += eval_news(args.data_dir, args.home, runs, args.news_others)
    if rows:
        print_table(rows)
    if args.only in (None, "known"):
        eval_known(args.data_dir, args.home, with_txtai=not args.no_txtai)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
