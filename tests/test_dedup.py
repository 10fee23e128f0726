"""Tests for archive.dedup.minhash: exact hashing, URLs, MinHash/LSH, pairs and groups.

The last section measures against ../shared/data/bbc_news and is skipped when
that folder is not next to the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.dedup.minhash import (
    MinHasher,
    candidate_probability,
    canonical_url,
    content_hash,
    find_near_duplicates,
    group_pairs,
    jaccard,
    normalize_for_hash,
    word_shingles,
)

REPO = Path(__file__).resolve().parents[1]
BBC_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news"

WIRE = (
    "KYIV, Ukraine (AP) — Russian forces pounded the eastern city of Kharkiv with rockets "
    "overnight, killing at least four civilians and damaging a hospital, regional officials "
    "said Tuesday. Governor Oleh Syniehubov said the strikes hit residential buildings in two "
    "districts and that rescue crews were still searching the rubble for survivors. The "
    "Ukrainian military said its air defenses shot down several drones over the region, while "
    "Moscow claimed it had targeted military infrastructure. The attack came a day after "
    "President Volodymyr Zelenskyy urged Western allies to speed up deliveries of air defense "
    "systems, saying Ukraine's cities remained exposed to nightly bombardment. Kharkiv, the "
    "country's second-largest city, lies about 30 kilometers from the Russian border and has "
    "been shelled repeatedly since the start of the full-scale invasion in February 2022."
)
# A republished copy: dateline dropped, a word changed, a sentence added, quotes curled.
EDITED = (
    "Russian forces pounded the eastern city of Kharkiv with rockets overnight, killing at "
    "least four civilians and damaging a hospital, regional officials said Tuesday. Governor "
    "Oleh Syniehubov said the strikes hit residential buildings in two districts and that "
    "rescue teams were still searching the rubble for survivors. The Ukrainian military said "
    "its air defenses shot down several drones over the region, while Moscow claimed it had "
    "targeted military infrastructure. The attack came a day after President Volodymyr "
    "Zelenskyy urged Western allies to speed up deliveries of air defense systems, saying "
    "Ukraine’s cities remained exposed to nightly bombardment. Kharkiv, the country’s "
    "second-largest city, lies about 30 kilometers from the Russian border and has been "
    "shelled repeatedly since the start of the full-scale invasion in February 2022. "
    "Read more of our coverage of the war in Ukraine."
)
UNRELATED = [
    "The central bank held interest rates at 4.75% on Thursday, citing slowing consumer "
    "spending and a cooling housing market, and said it would keep watching inflation data "
    "closely before deciding on any further move in the spring.",
    "The Security Council met in emergency session on Friday after a ceasefire in the region "
    "collapsed, with diplomats trading blame over who fired first and aid agencies warning "
    "that food supplies for displaced families would run out within days.",
    "Officials said on Monday that Russian forces shelled the city of Kharkiv overnight. Aid "
    "convoys reached the port of Odesa, and grain exports resumed after a pause of two weeks, "
    "the ministry of infrastructure said in a statement.",
]


# ------------------------------------------------------------ exact hashing


def test_content_hash_ignores_whitespace_case_and_quote_style() -> None:
    plain = 'He said "we will not leave" and   walked out.\n'
    variants = [
        "He  said “We will NOT leave” and walked out.",
        "he said \u201cwe will not leave\u201d\tand walked out",
    ]
    assert {content_hash(v) for v in variants} == {content_hash(plain)}


def test_content_hash_changes_when_a_word_changes() -> None:
    assert content_hash("Troops left the city.") != content_hash("Troops entered the city.")


def test_content_hash_is_sha256_of_the_normalized_text() -> None:
    text = "Russian forces shelled  the city of Kharkiv, officials said on Monday."
    expected = hashlib.sha256(b"russian forces shelled the city of kharkiv officials said on monday").hexdigest()
    assert normalize_for_hash(text) == "russian forces shelled the city of kharkiv officials said on monday"
    assert content_hash(text) == expected


def test_normalize_applies_nfkc_and_casefold() -> None:
    assert normalize_for_hash("ﬁnal STRASSE") == normalize_for_hash("final straße")


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.text(alphabet="abcxyz019", min_size=1, max_size=6), min_size=1, max_size=12))
def test_content_hash_is_invariant_under_respacing(words: list[str]) -> None:
    assert content_hash(" ".join(words)) == content_hash("\n\t ".join(w.upper() for w in words) + "  ")


# --------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTP://WWW.BBC.co.uk/news/World-123/?utm_source=tw&b=2&a=1#top",
            "https://bbc.co.uk/news/World-123?a=1&b=2",
        ),
        ("https://x.com/a?fbclid=1&gclid=2&ref=tw&ocid=3&cmpid=4&UTM_Medium=e", "https://x.com/a"),
        ("https://www.bbc.com", "https://bbc.com/"),
        ("https://bbc.com/", "https://bbc.com/"),
        ("http://example.com:80/a/", "https://example.com/a"),
        ("https://example.com:443/a?id=7", "https://example.com/a?id=7"),
        ("//www.cnn.com/2022/02/24/europe/index.html", "https://cnn.com/2022/02/24/europe/index.html"),
        ("  /data/articles/001.txt  ", "/data/articles/001.txt"),
        ("C:\\news\\001.txt", "C:\\news\\001.txt"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_canonical_url(url: str | None, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("http://www.Example.com/a/b/?z=1&y=2&utm_campaign=x#frag")
    assert canonical_url(once) == once


# ---------------------------------------------------------- shingles, Jaccard


def test_jaccard_counts_word_five_grams() -> None:
    # {abcde, bcdef} vs {abcde, bcdeg}: one shared of three.
    assert jaccard("a b c d e f", "A b, c d e g") == pytest.approx(1 / 3)


def test_jaccard_of_a_text_without_words_is_zero() -> None:
    assert jaccard("", "") == 0.0
    assert jaccard("...", WIRE) == 0.0
    assert word_shingles("  ").size == 0


def test_short_text_is_one_shingle() -> None:
    assert word_shingles("Ceasefire holds").size == 1
    assert jaccard("Ceasefire holds", "ceasefire HOLDS!") == 1.0


# --------------------------------------------------------------- MinHash/LSH


def test_signature_is_deterministic_across_processes() -> None:
    hasher = MinHasher()
    code = (
        "import sys; from archive.dedup.minhash import MinHasher; h = MinHasher(); "
        "sys.stdout.write(h.to_bytes(h.signature(sys.argv[1])).hex())"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, WIRE], env=env, capture_output=True, text=True, check=True)
    assert bytes.fromhex(out.stdout) == hasher.to_bytes(hasher.signature(WIRE))


def test_signature_values_are_pinned() -> None:
    # Stored signatures and band keys become useless if these ever change.
    hasher = MinHasher()
    signature = hasher.signature("Russian forces shelled the city of Kharkiv overnight, officials said on Monday.")
    assert signature.dtype == np.uint32 and signature.shape == (128,)
    assert signature[:6].tolist() == [120858083, 56312799, 12816165, 608948060, 296508724, 141777465]
    assert hasher.band_keys(signature)[:3] == [5947339453861433, 74534853619803087, 166736990228461584]


def test_signature_round_trips_through_bytes() -> None:
    hasher = MinHasher()
    signature = hasher.signature(WIRE)
    blob = hasher.to_bytes(signature)
    assert len(blob) == 4 * hasher.num_perm
    assert np.array_equal(hasher.from_bytes(blob), signature)
    with pytest.raises(ValueError, match="512 bytes"):
        hasher.from_bytes(blob[:-4])


def test_band_keys_fit_signed_64_bit_and_carry_the_band_index() -> None:
    hasher = MinHasher()
    for text in [WIRE, EDITED, *UNRELATED]:
        keys = hasher.band_keys(hasher.signature(text))
        assert len(keys) == hasher.bands
        assert all(-(2**63) <= key < 2**63 for key in keys)
        assert [(key % 2**64) >> 56 for key in keys] == list(range(hasher.bands))


def test_band_keys_cover_bands_past_127_with_negative_keys() -> None:
    hasher = MinHasher(num_perm=256, bands=256)
    keys = hasher.band_keys(hasher.signature(WIRE))
    assert min(keys) < 0 and len(set(keys)) == 256


def test_text_without_words_has_no_band_keys() -> None:
    hasher = MinHasher()
    assert hasher.band_keys(hasher.signature("")) == []


def test_similarity_estimates_jaccard() -> None:
    hasher = MinHasher()
    estimate = hasher.similarity(hasher.signature(WIRE), hasher.signature(EDITED))
    assert estimate == pytest.approx(jaccard(WIRE, EDITED), abs=0.15)
    assert hasher.similarity(hasher.signature(WIRE), hasher.signature(WIRE)) == 1.0


def test_s_curve_makes_default_threshold_pairs_candidates() -> None:
    hasher = MinHasher()
    assert candidate_probability(0.5, hasher.rows, hasher.bands) > 0.99
    assert candidate_probability(0.05, hasher.rows, hasher.bands) < 0.01
    assert candidate_probability(0.5, 4, 32) == pytest.approx(1 - (1 - 0.5**4) ** 32)


def test_invalid_settings_say_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="bands must be between 1 and 128"):
        MinHasher(num_perm=128, bands=200)
    with pytest.raises(ValueError, match="shingle_size"):
        MinHasher(shingle_size=0)


# --------------------------------------------------------- pairs and groups


def test_edited_wire_copy_is_found_and_unrelated_stories_are_not() -> None:
    texts = [UNRELATED[0], WIRE, UNRELATED[1], EDITED, UNRELATED[2]]
    pairs = find_near_duplicates(texts)
    assert [(i, j) for i, j, _ in pairs] == [(1, 3)]
    assert pairs[0][2] == pytest.approx(jaccard(WIRE, EDITED))
    assert pairs[0][2] >= 0.5


def test_unverified_pairs_use_the_minhash_estimate() -> None:
    texts = [WIRE, EDITED, *UNRELATED]
    hasher = MinHasher()
    ((i, j, score),) = find_near_duplicates(texts, verify=False, hasher=hasher)
    assert (i, j) == (0, 1)
    assert score == hasher.similarity(hasher.signature(WIRE), hasher.signature(EDITED))


def test_exact_copies_are_reported_with_similarity_one() -> None:
    assert find_near_duplicates([WIRE, "", WIRE.upper(), ""]) == [(0, 2, 1.0)]


def test_group_pairs_is_transitive_and_sorted() -> None:
    pairs = [(5, 6, 0.9), (0, 3, 0.7), (3, 7, 0.6), (1, 9, 0.5)]
    assert group_pairs(10, pairs) == [[0, 3, 7], [1, 9], [5, 6]]
    assert group_pairs(3, []) == []


def test_group_pairs_rejects_indices_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        group_pairs(3, [(0, 3, 1.0)])


# ------------------------------------------------------ shared BBC ground truth


def _loose(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


BBC = tuple[list[dict[str, str]], list[dict[str, object]]]


@pytest.fixture(scope="module")
def bbc() -> BBC:
    articles_path = BBC_DIR / "bbc_news_2225.jsonl"
    pairs_path = BBC_DIR / "near_duplicate_pairs_j050.json"
    if not (articles_path.is_file() and pairs_path.is_file()):
        pytest.skip(f"BBC ground truth not found at {BBC_DIR} (needs ../shared/data next to the checkout)")
    with articles_path.open(encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle]
    return articles, json.loads(pairs_path.read_text(encoding="utf-8"))


@pytest.mark.shared
def test_bbc_every_exact_group_shares_one_content_hash(bbc: BBC) -> None:
    articles, _ = bbc
    groups: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for index, article in enumerate(articles):
        groups[(_loose(article["title"]), _loose(article["text"]))].append(index)
    exact = [g for g in groups.values() if len(g) > 1]
    assert len(exact) == 103
    assert all(len({content_hash(articles[i]["text"]) for i in g}) == 1 for g in exact)


@pytest.mark.shared
def test_bbc_near_duplicate_recall_and_precision(bbc: BBC) -> None:
    articles, labelled = bbc
    position = {a["id"]: i for i, a in enumerate(articles)}
    hashes = [content_hash(a["text"]) for a in articles]
    listed = {tuple(sorted((position[p["a"]], position[p["b"]]))): float(p["jaccard_5gram"]) for p in labelled}
    truth = {pair for pair in listed if hashes[pair[0]] != hashes[pair[1]]}
    assert len(truth) == 31
    found = find_near_duplicates([a["text"] for a in articles])
    reported = {(i, j) for i, j, _ in found if hashes[i] != hashes[j]}
    true_positives = len(reported & truth)
    assert true_positives / len(truth) >= 0.90
    assert true_positives / max(1, len(reported)) >= 0.95
    # Our Jaccard is theirs: word 5-grams of the lowercased \w+ words.
    assert all(abs(s - listed[(i, j)]) < 1e-4 for i, j, s in found if (i, j) in listed)
