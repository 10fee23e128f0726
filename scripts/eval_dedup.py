#!/usr/bin/env python
"""Measure ``archive.dedup.minhash`` against the shared ground truth and print one table.

    python scripts/eval_dedup.py [--data-dir ../shared/data] [--threshold 0.5] [--no-verify]

bbc_news (``bbc_news/``)
    Exact groups: articles whose title and body are equal once case,
    whitespace and punctuation are ignored; that is what gives the announced
    103 groups (raw equality gives 98 on title+body, 133 on body alone). A group
    counts as found when all its members share one ``content_hash`` of the body.
    Near duplicates: ``near_duplicate_pairs_j050.json`` lists every pair with
    word 5-gram Jaccard >= 0.5 (checked by brute force: nothing is missing);
    its 138 pairs at 1.0 are bodies with equal ``content_hash``, the other 31
    are the near-duplicate ground truth. A reported pair with unequal hashes
    is a true positive when listed, a false positive otherwise.

ukraine_media (``ukraine_media/``)
    No labels: counts of exact groups, same-title groups, near-duplicate pairs,
    and how many AP wire copies get linked to an AP original. Originals are the
    articles of the "Associated Press (via Daily Mail wires)" outlet; marked
    copies are other outlets' articles with an "(AP) —" dateline, an AP
    copyright line or an "Associated Press writer" credit.

pipeline (unless ``--skip-pipeline``)
    The same measures on what ``archive ingest`` actually stores: both sets go
    through the real pipeline (clean, hash, LSH candidates, exact verification,
    links), with a fake embedder since vectors play no part in these decisions.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from archive.dedup.minhash import (
    DEFAULT_THRESHOLD,
    content_hash,
    find_near_duplicates,
    group_pairs,
)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
BBC_ARTICLES = Path("bbc_news") / "bbc_news_2225.jsonl"
BBC_PAIRS = Path("bbc_news") / "near_duplicate_pairs_j050.json"
UKRAINE_ARTICLES = Path("ukraine_media") / "ukraine_media_r2nery.jsonl.gz"

_WORDS = re.compile(r"\w+")
_AP_DATELINE = re.compile(r"\(AP\)\s*(?:—|–|--|-|_)")
_AP_CREDIT = re.compile(r"Copyright \d{4} (?:The )?Associated Press|Associated Press (?:writers?|reporters?)\b")

Row = tuple[str, str, str]  # section, metric, value


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def groups_by_key(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices that share a key, for keys held by two or more items."""
    members: defaultdict[Hashable, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        members[key].append(index)
    return [group for group in members.values() if len(group) > 1]


def loose(text: str) -> str:
    """Case, whitespace and punctuation ignored: how the BBC exact groups were counted."""
    return " ".join(_WORDS.findall(text.lower()))


def ratio(part: int, whole: int) -> str:
    """part / whole to three decimals, "n/a" when there is nothing to divide by."""
    return f"{part / whole:.3f}" if whole else "n/a"


def evaluate_bbc(data_dir: Path, threshold: float, verify: bool) -> list[Row]:
    """Exact groups found and near-duplicate precision/recall on the BBC set."""
    articles = read_jsonl(data_dir / BBC_ARTICLES)
    texts = [a["text"] for a in articles]
    position = {a["id"]: i for i, a in enumerate(articles)}
    hashes = [content_hash(t) for t in texts]
    truth_groups = groups_by_key([(loose(a["title"]), loose(a["text"])) for a in articles])
    found = sum(1 for g in truth_groups if len({hashes[i] for i in g}) == 1)
    labelled = json.loads((data_dir / BBC_PAIRS).read_text(encoding="utf-8"))
    listed = {tuple(sorted((position[p["a"]], position[p["b"]]))): p["jaccard_5gram"] for p in labelled}
    truth = {pair for pair, j in listed.items() if j >= threshold and hashes[pair[0]] != hashes[pair[1]]}
    started = time.perf_counter()
    pairs = find_near_duplicates(texts, threshold=threshold, verify=verify)
    elapsed = time.perf_counter() - started
    reported = {(i, j) for i, j, _ in pairs if hashes[i] != hashes[j]}
    tp, fp, fn = len(reported & truth), len(reported - truth), len(truth - reported)
    at_one = [pair for pair, j in listed.items() if j == 1.0]
    at_one_equal = sum(1 for i, j in at_one if hashes[i] == hashes[j])
    return [
        ("bbc_news", "articles", str(len(texts))),
        ("bbc_news", "exact groups found (same title+body)", f"{found} / {len(truth_groups)}"),
        ("bbc_news", "content_hash groups on body", str(len(groups_by_key(hashes)))),
        ("bbc_news", "listed pairs at 1.0 with equal hash", f"{at_one_equal} / {len(at_one)}"),
        ("bbc_news", f"near-dup truth (J >= {threshold}, J < 1)", str(len(truth))),
        ("bbc_news", "near-dup TP / FP / FN", f"{tp} / {fp} / {fn}"),
        ("bbc_news", "near-dup precision", ratio(tp, tp + fp)),
        ("bbc_news", "near-dup recall", ratio(tp, tp + fn)),
        ("bbc_news", "find_near_duplicates seconds", f"{elapsed:.1f}"),
    ]


def is_marked_ap_copy(article: dict[str, Any]) -> bool:
    """An article of another outlet that says it is AP copy (dateline, copyright, credit)."""
    text = article["text"] or ""
    return bool(_AP_DATELINE.search(text[:300]) or _AP_CREDIT.search(text))


def linked_to(groups: Iterable[list[int]], sources: set[int]) -> set[int]:
    """Members of groups that contain at least one index of ``sources``."""
    linked: set[int] = set()
    for group in groups:
        if sources.intersection(group):
            linked.update(group)
    return linked


def evaluate_ukraine(data_dir: Path, threshold: float, verify: bool) -> list[Row]:
    """Unlabelled counts on the ukraine_media set, AP wire copies included."""
    started = time.perf_counter()
    articles = read_jsonl(data_dir / UKRAINE_ARTICLES)
    texts = [a["text"] or "" for a in articles]
    hashes = [content_hash(t) for t in texts]
    pairs = find_near_duplicates(texts, threshold=threshold, verify=verify)
    elapsed = time.perf_counter() - started
    near = [(i, j, s) for i, j, s in pairs if hashes[i] != hashes[j]]
    titled = [loose(a["title"] or "") for a in articles]
    title_groups = [g for g in groups_by_key(titled) if titled[g[0]]]
    exact_links = [(g[0], member, 1.0) for g in groups_by_key(hashes) for member in g[1:]]
    groups = group_pairs(len(texts), pairs + exact_links)
    originals = {i for i, a in enumerate(articles) if a["outlet"].startswith("Associated Press")}
    marked = {i for i, a in enumerate(articles) if i not in originals and is_marked_ap_copy(a)}
    with_original = linked_to(groups, originals) - originals
    with_anything = {i for g in groups for i in g}
    return [
        ("ukraine_media", "articles", str(len(texts))),
        ("ukraine_media", "exact-dup groups (content_hash)", str(len(groups_by_key(hashes)))),
        ("ukraine_media", "same-title groups (non-empty title)", str(len(title_groups))),
        ("ukraine_media", "near-dup pairs (not exact)", str(len(near))),
        ("ukraine_media", "near-dup groups", str(len(groups))),
        ("ukraine_media", "AP originals (AP outlet)", str(len(originals))),
        ("ukraine_media", "marked AP copies in other outlets", str(len(marked))),
        ("ukraine_media", "  linked to an AP original", str(len(marked & with_original))),
        ("ukraine_media", "  linked to any other article", str(len(marked & with_anything))),
        ("ukraine_media", "other-outlet articles linked to AP original", str(len(with_original))),
        ("ukraine_media", "seconds (hash + near-dup)", f"{elapsed:.1f}"),
    ]


def _ingest_links(records: list[Any], threshold: float) -> list[tuple[int, int | None, str | None, str | None]]:
    """Run records through the real ingest pipeline (fake vectors: dedup does not use them)."""
    import tempfile

    from sqlalchemy.orm import Session

    from archive import Archive, IngestOptions
    from archive.embedding.fake import FakeEmbedder
    from archive.store.sqlite import reads

    with tempfile.TemporaryDirectory() as tmp, Archive.open(Path(tmp) / "eval.db", embedder=FakeEmbedder()) as archive:
        archive.ingest_records(records, options=IngestOptions(near_threshold=threshold))
        with Session(archive.engine) as session:
            return reads.article_links(session)


def evaluate_pipeline(data_dir: Path, threshold: float) -> list[Row]:
    """The same ground truth, measured on what ``archive ingest`` stores (links between articles)."""
    from archive import RawArticle

    started = time.perf_counter()
    bbc = read_jsonl(data_dir / BBC_ARTICLES)
    records = [RawArticle(text=a["text"], title=a["title"], origin=a["id"], url=f"bbc://{a['id']}") for a in bbc]
    links = _ingest_links(records, threshold)
    root = {aid: canon or aid for aid, canon, _, _ in links}
    by_origin = {origin: aid for aid, _, origin, _ in links}
    origin_of = {aid: origin for aid, _, origin, _ in links}
    exact = [g for g in groups_by_key([(loose(a["title"] or ""), loose(a["text"] or "")) for a in bbc]) if len(g) > 1]
    found = sum(len({root[by_origin[bbc[i]["id"]]] for i in g}) == 1 for g in exact)
    truth = {
        frozenset((p["a"], p["b"])) for p in json.loads((data_dir / BBC_PAIRS).read_text()) if p["jaccard_5gram"] < 1.0
    }
    near = [frozenset((origin_of[aid], origin_of[canon])) for aid, canon, _, kind in links if kind == "near" and canon]
    tp = sum(pair in truth for pair in near)
    recalled = sum(len({root[by_origin[x]] for x in pair}) == 1 for pair in truth)
    rows: list[Row] = [
        ("pipeline bbc", "exact groups linked", f"{found} / {len(exact)}"),
        ("pipeline bbc", "near links TP / FP", f"{tp} / {len(near) - tp}"),
        ("pipeline bbc", "near-dup precision", ratio(tp, len(near))),
        ("pipeline bbc", "near-dup recall (pairs in one group)", ratio(recalled, len(truth))),
    ]
    return (
        rows
        + _pipeline_ukraine(data_dir, threshold)
        + [("pipeline", "seconds", f"{time.perf_counter() - started:.1f}")]
    )


def _pipeline_ukraine(data_dir: Path, threshold: float) -> list[Row]:
    from archive import RawArticle

    articles = read_jsonl(data_dir / UKRAINE_ARTICLES)
    records = [
        RawArticle(
            text=a["text"] or "",
            title=a["title"],
            outlet=a["outlet"],
            url=a["url"],
            published=a["published_date"],
            origin=a["id"],
        )
        for a in articles
    ]
    links = _ingest_links(records, threshold)
    by_origin = {origin: aid for aid, _, origin, _ in links}
    root = {aid: canon or aid for aid, canon, _, _ in links}
    members: dict[int, set[int]] = defaultdict(set)
    for aid, r in root.items():
        members[r].add(aid)
    index = {a["id"]: i for i, a in enumerate(articles)}
    originals = {
        by_origin[a["id"]] for a in articles if a["outlet"].startswith("Associated Press") and a["id"] in by_origin
    }
    marked = [
        by_origin[a["id"]]
        for a in articles
        if a["id"] in by_origin and by_origin[a["id"]] not in originals and is_marked_ap_copy(articles[index[a["id"]]])
    ]
    with_original = [m for m in marked if members[root[m]] & originals - {m}]
    kinds = defaultdict(int)
    for _, _, _, kind in links:
        kinds[kind] += 1
    return [
        ("pipeline ukraine", "articles stored", str(len(links))),
        ("pipeline ukraine", "exact / near links", f"{kinds['exact']} / {kinds['near']}"),
        ("pipeline ukraine", "marked AP copies linked to an AP original", f"{len(with_original)} / {len(marked)}"),
        (
            "pipeline ukraine",
            "articles in groups with an AP original",
            str(sum(len(members[root[o]]) - 1 for o in originals if root[o] == o)),
        ),
    ]


def print_table(rows: Sequence[Row]) -> None:
    """Print rows as left-aligned columns under a header."""
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    header = ("dataset", "metric", "value")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default: %(default)s")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, help="similarity cut-off (default: %(default)s)"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="score pairs by the MinHash estimate, not exact Jaccard"
    )
    parser.add_argument(
        "--skip-pipeline", action="store_true", help="measure the pure functions only, not `archive ingest`"
    )
    args = parser.parse_args(argv)
    missing = [p for p in (BBC_ARTICLES, BBC_PAIRS, UKRAINE_ARTICLES) if not (args.data_dir / p).is_file()]
    if missing:
        names = ", ".join(map(str, missing))
        print(f"missing under {args.data_dir}: {names}; point --data-dir at shared/data", file=sys.stderr)
        return 2
    if args.threshold < 0.5:
        print("note: the BBC pair list stops at 0.5, so pairs below it count as false positives", file=sys.stderr)
    started = time.perf_counter()
    rows = evaluate_bbc(args.data_dir, args.threshold, not args.no_verify)
    rows += evaluate_ukraine(args.data_dir, args.threshold, not args.no_verify)
    if not args.skip_pipeline:
        rows += evaluate_pipeline(args.data_dir, args.threshold)
    rows.append(("total", "elapsed seconds", f"{time.perf_counter() - started:.1f}"))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
