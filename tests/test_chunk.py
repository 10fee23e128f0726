"""Tests for archive.text.chunk: sentence splitting, token bounds, offsets, overlap."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.text.chunk import Chunk, TokenCounter, approx_token_count, bounded_counter, chunk_text, split_sentences

FRAGMENTS = [
    "U.S. forces entered Kherson. ",
    "Mr. Smith left. ",
    "It rose 3.5 percent at 9 p.m. The ",
    "“Why?” he asked. ",
    "Gen. J. Doe said no! ",
    "\n",
    "\n\n",
    " ",
    "\t",
    "\u00a0",
    "...",
    "Київ ",
    "日本語。",
    "e\u0301 ",
    "—",
]

text_pieces = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=12),
    st.text(alphabet="ab.", min_size=40, max_size=400),  # very long "words"
)
article_texts = st.lists(text_pieces, max_size=40).map("".join)


def count_words(text: str) -> int:
    """An additive counter: one token per whitespace-separated word."""
    return len(text.split())


def count_chars(text: str) -> int:
    """A non-additive counter (whitespace counts), to exercise the re-count."""
    return len(text)


COUNTERS: list[TokenCounter] = [approx_token_count, count_words, count_chars]


@st.composite
def limits(draw: st.DrawFn) -> tuple[int, int]:
    max_tokens = draw(st.integers(min_value=8, max_value=60))
    overlap_tokens = draw(st.integers(min_value=0, max_value=max_tokens - 1))
    return max_tokens, overlap_tokens


def assert_chunk_invariants(text: str, chunks: list[Chunk], max_tokens: int, counter: TokenCounter) -> None:
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.token_count == counter(chunk.text) <= max_tokens
    for previous, current in zip(chunks, chunks[1:]):
        assert current.char_start > previous.char_start
        assert current.char_end > previous.char_end  # progress: never inside the previous


def assert_covers_every_visible_char(text: str, spans: list[tuple[int, int]]) -> None:
    covered = bytearray(len(text))
    for start, end in spans:
        covered[start:end] = b"\x01" * (end - start)
    missing = [i for i, char in enumerate(text) if not char.isspace() and not covered[i]]
    assert missing == []


@settings(max_examples=200, deadline=None)
@given(article_texts, limits(), st.sampled_from(COUNTERS))
def test_chunks_are_exact_bounded_ordered_slices_covering_the_text(
    text: str, limit: tuple[int, int], counter: TokenCounter
) -> None:
    max_tokens, overlap_tokens = limit

    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens, count_tokens=counter)

    assert_chunk_invariants(text, chunks, max_tokens, counter)
    assert_covers_every_visible_char(text, [(c.char_start, c.char_end) for c in chunks])


@settings(max_examples=200, deadline=None)
@given(article_texts, limits())
def test_overlap_stays_within_budget_and_never_swallows_the_previous_chunk(text: str, limit: tuple[int, int]) -> None:
    max_tokens, overlap_tokens = limit

    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens)

    for previous, current in zip(chunks, chunks[1:]):
        assert current.char_start > previous.char_start  # previous not inside current
        shared = text[current.char_start : previous.char_end]
        assert approx_token_count(shared) <= overlap_tokens


@settings(max_examples=200, deadline=None)
@given(article_texts, st.integers(min_value=8, max_value=60))
def test_zero_overlap_gives_disjoint_chunks(text: str, max_tokens: int) -> None:
    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=0)

    for previous, current in zip(chunks, chunks[1:]):
        assert current.char_start >= previous.char_end


def test_overlap_repeats_trailing_whole_sentences_of_previous_chunk() -> None:
    sentences = [f"Sentence number {n} reports shelling near the river." for n in range(12)]
    text = " ".join(sentences)

    chunks = chunk_text(text, max_tokens=40, overlap_tokens=12, count_tokens=count_words)

    assert len(chunks) > 2
    for previous, current in zip(chunks, chunks[1:]):
        first_sentence = current.text.split(". ")[0] + "."
        assert first_sentence in sentences
        assert previous.text.endswith(first_sentence)


def test_paragraph_break_starts_a_new_chunk_once_half_full() -> None:
    first = (
        "Shelling hit Kharkiv overnight and damaged homes near the center. "
        "Two people were hurt in the attack, officials said."
    )
    second = "In Geneva, envoys met again. No deal was announced."
    assert count_words(first) + count_words(second) <= 30  # would fit in one chunk
    text = f"{first}\n\n{second}"

    chunks = chunk_text(text, max_tokens=30, overlap_tokens=0, count_tokens=count_words)

    assert [chunk.text for chunk in chunks] == [first, second]


def test_paragraph_break_is_ignored_while_chunk_is_under_half_full() -> None:
    text = "Short one.\n\nThen a second paragraph follows here."

    chunks = chunk_text(text, max_tokens=30, overlap_tokens=0, count_tokens=count_words)

    assert [chunk.text for chunk in chunks] == [text]


def test_overlong_sentence_is_split_at_word_boundaries() -> None:
    text = " ".join(f"w{n}" for n in range(100)) + "."

    chunks = chunk_text(text, max_tokens=10, overlap_tokens=0, count_tokens=count_words)

    assert all(chunk.token_count <= 10 for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == text


def test_overlong_word_is_split_by_characters() -> None:
    text = "x" * 5000

    chunks = chunk_text(text, max_tokens=8, overlap_tokens=2)

    assert all(approx_token_count(chunk.text) <= 8 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \u00a0\n"])
def test_blank_text_gives_no_chunks(text: str) -> None:
    assert chunk_text(text) == []


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"),
    [(7, 0), (0, 0), (128, -1), (128, 128), (16, 200)],
)
def test_invalid_limits_raise_value_error(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError, match=r"max_tokens|overlap_tokens"):
        chunk_text("Some text.", max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def test_counter_rating_one_character_above_limit_raises_instead_of_looping() -> None:
    with pytest.raises(ValueError, match="single character"):
        chunk_text("abc", max_tokens=8, overlap_tokens=0, count_tokens=lambda s: 100)


def test_chunking_fifty_thousand_words_is_fast() -> None:
    sentence = "Russian forces shelled Kherson again on Tuesday, officials said. "
    text = (sentence * 6000).strip()
    assert len(text.split()) > 50_000

    started = time.perf_counter()
    chunks = chunk_text(text)
    elapsed = time.perf_counter() - started

    assert chunks and elapsed < 1.0, f"took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "U.S. forces entered Kherson. Mr. Smith left.",
            ["U.S. forces entered Kherson.", "Mr. Smith left."],
        ),
        ("Growth was 3.5 percent. Prices fell.", ["Growth was 3.5 percent.", "Prices fell."]),
        (
            "Lt. Col. John F. Kennedy Jr. arrived. Dr. Lee met Gen. Hodges in St. Louis.",
            ["Lt. Col. John F. Kennedy Jr. arrived.", "Dr. Lee met Gen. Hodges in St. Louis."],
        ),
        (
            "The blast came at 9 a.m. and at 3 p.m. Sirens sounded.",
            ["The blast came at 9 a.m. and at 3 p.m.", "Sirens sounded."],
        ),
        (
            "Talks on Jan. 5 failed. Others, e.g. Poland, objected.",
            ["Talks on Jan. 5 failed.", "Others, e.g. Poland, objected."],
        ),
        (
            "He said, “We will not retreat.” Then he left.",
            ["He said, “We will not retreat.”", "Then he left."],
        ),
        ("“Why?” he asked. Nobody knew!", ["“Why?” he asked.", "Nobody knew!"]),
        ("First line without stop\nSecond line", ["First line without stop", "Second line"]),
        ("  \n  padded.   \n", ["padded."]),
    ],
)
def test_split_sentences_handles_abbreviations_quotes_and_newlines(text: str, expected: list[str]) -> None:
    assert [text[start:end] for start, end in split_sentences(text)] == expected


@settings(max_examples=200, deadline=None)
@given(article_texts)
def test_sentence_spans_are_trimmed_ordered_and_cover_the_text(text: str) -> None:
    spans = split_sentences(text)

    for start, end in spans:
        assert start < end
        assert text[start:end] == text[start:end].strip()
        assert "\n" not in text[start:end]
    for (_, previous_end), (next_start, _) in zip(spans, spans[1:]):
        assert previous_end <= next_start
    assert_covers_every_visible_char(text, spans)


def test_split_sentences_is_linear_on_long_runs_of_periods() -> None:
    text = "." * 200_000 + " Mr. X " * 20_000

    started = time.perf_counter()
    split_sentences(text)

    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("war", 1),
        ("Zaporizhzhia", 2),  # 12 ASCII letters -> ceil(12 / 6)
        ("cease-fire, now!", 6),
        ("Київ", 2),  # non-ASCII words count ceil(len / 2)
        ("日本語", 3),  # one per CJK ideograph
        ("a_b", 3),  # BERT treats "_" as punctuation
        ("Kyïv", 3),  # ASCII and non-ASCII letters are priced as separate runs
    ],
)
def test_approx_token_count_examples(text: str, expected: int) -> None:
    assert approx_token_count(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.sampled_from([" ", "\n", "\t", "  \n\n "]))
def test_approx_token_count_is_additive_over_whitespace(left: str, right: str, gap: str) -> None:
    assert approx_token_count(left + gap + right) == approx_token_count(left) + approx_token_count(right)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=0, max_value=200))
def test_approx_token_count_is_subadditive_when_a_word_is_cut(text: str, cut: int) -> None:
    cut = min(cut, len(text))

    whole = approx_token_count(text)

    assert whole <= approx_token_count(text[:cut]) + approx_token_count(text[cut:])
    assert approx_token_count(text[:cut]) <= whole  # monotone in prefix length


def test_approx_token_count_overestimates_word_count() -> None:
    text = "Kremlin's conditions could reshape the balance of power in the ongoing war."

    assert approx_token_count(text) >= len(re.findall(r"\w+|[^\w\s]", text))


def _one_per_word(text: str) -> int:
    """Like BERT WordPiece on a word over 100 characters: one token ([UNK]) however long."""
    return len(text.split())


def test_a_run_without_spaces_is_split_so_the_bound_also_bounds_length() -> None:
    text = "Officials said so. " + "x" * 999_000 + " The end."
    chunks = chunk_text(text, max_tokens=64, overlap_tokens=8, count_tokens=_one_per_word)
    bounded = bounded_counter(_one_per_word)
    assert chunks and "".join(c.text for c in chunks).count("x") >= 999_000
    assert all(bounded(c.text) <= 64 and len(c.text) <= 64 * 100 for c in chunks)
    assert all(c.token_count == _one_per_word(c.text) for c in chunks)


def test_bounded_counter_changes_nothing_without_long_runs() -> None:
    bounded = bounded_counter(_one_per_word)
    assert bounded("plain words only") == 3 and bounded("y" * 250) == 3
    assert bounded_counter(bounded) is bounded
