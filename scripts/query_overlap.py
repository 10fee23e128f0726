"""Word overlap between a known-item query and the article it targets.

The overlap of a query is the share of its content words that also occur in the
article's title + text. Content words are the query's lowercased words of three
or more letters (runs of a-z; an apostrophe and what follows it are dropped, so
"Russia's" counts as "russia") that are not in the small STOPWORDS list below;
each distinct word counts once. An article word matches only as the same word
(no stemming).

Used to check scripts/known_items_heldout.json: items of kind "paraphrase" must
have overlap < 0.3. Run:

    python3 scripts/query_overlap.py [items.json] [--fix]

It prints, per item, the stored and the recomputed overlap and flags any
mismatch or a paraphrase at 0.3 or above; --fix writes recomputed values back.
Exit status 1 when a check fails (without --fix). Standard library only.

How the 45 held-out items were picked (written blind, without running any search):
eligible articles (file order; not texts under 150 words, not ids already in
known_items.json, not titles that occur more than once) walked in the order of
random.Random(20261201).sample(eligible, len(eligible)); at most 5 per outlet
and at most 38 from 2022 (older articles exist only in five US outlets); kinds alternate described, described, paraphrase in pick order.
On this same definition the stored overlaps of known_items.json are reproduced to
within 0.07 (mean 0.015).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

DATA = Path("/work/shared/data/ukraine_media/ukraine_media_r2nery.jsonl.gz")
DEFAULT_ITEMS = Path(__file__).with_name("known_items_heldout.json")
PARAPHRASE_MAX = 0.3

STOPWORDS = frozenset(
    """
    the and for are but not you all any can had her was one our out his has him how its who
    did get may new now old see two way use she too per via off yet own let
    about above after again against also among around because been before being below between
    both could down during each from further have having here hers into itself just more most
    much must near only other over same should some such than that their theirs them then
    there these they this those through under until upon very were what when where which while
    whom whose why will with within without would your yours says said say saying told tells
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]*)?")


def words(text: str) -> list[str]:
    """Lowercased words of text, apostrophe suffixes dropped."""
    normalized = text.lower().replace("\u2019", "'")
    return [w.split("'")[0] for w in _WORD.findall(normalized)]


def content_words(query: str) -> set[str]:
    """Distinct words of 3+ letters in query that are not stopwords."""
    return {w for w in words(query) if len(w) >= 3 and w not in STOPWORDS}


def overlap(query: str, title: str, text: str) -> float:
    """Share of the query's content words found in the article (two decimals)."""
    wanted = content_words(query)
    if not wanted:
        return 0.0
    present = set(words(title + " " + text))
    return round(len(wanted & present) / len(wanted), 2)


def load_articles(ids: set[str]) -> dict[str, dict[str, str]]:
    """The articles with these ids from the ukraine_media data file."""
    found: dict[str, dict[str, str]] = {}
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] in ids:
                found[row["id"]] = row
    return found


def main(argv: list[str]) -> int:
    fix = "--fix" in argv
    paths = [a for a in argv if a != "--fix"]
    path = Path(paths[0]) if paths else DEFAULT_ITEMS
    items = json.loads(path.read_text(encoding="utf-8"))
    articles = load_articles({item["article"] for item in items})
    failures = 0
    for item in items:
        row = articles[item["article"]]
        value = overlap(item["query"], row["title"], row["text"])
        problem = ""
        if item.get("overlap") != value:
            problem += " MISMATCH"
        if item["kind"] == "paraphrase" and value >= PARAPHRASE_MAX:
            problem += " PARAPHRASE>=0.3"
        n_words = len(item["query"].split())
        if not 8 <= n_words <= 25:
            problem += f" LENGTH={n_words}"
        failures += bool(problem) and not (fix and problem == " MISMATCH")
        print(f"{item['article']} {item['kind']:<10} {item.get('overlap')} -> {value}{problem}")
        if fix:
            item["overlap"] = value
    if fix:
        path.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(items)} items, {failures} failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
