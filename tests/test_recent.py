from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from archive.embedding.recent import RecentQueries
from archive.embedding.sentence import SentenceTransformerEmbedder


class _Counting:
    """An encoder that gives each text a distinct vector and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return np.full(4, float(len(self.calls)), dtype=np.float32)


def test_a_query_asked_again_is_not_embedded_again() -> None:
    recent, embed = RecentQueries(size=8), _Counting()
    first = recent.vector("shelling of Kharkiv", embed)
    again = recent.vector("shelling of Kharkiv", embed)
    other = recent.vector("grain corridor", embed)
    assert embed.calls == ["shelling of Kharkiv", "grain corridor"]
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert again.dtype == np.float32


def test_held_vectors_are_read_only() -> None:
    vector = RecentQueries().vector("Kyiv", _Counting())
    with pytest.raises(ValueError):
        vector[0] = 5.0


def test_the_least_recently_asked_query_is_let_go_first() -> None:
    recent, embed = RecentQueries(size=2), _Counting()
    recent.vector("a", embed)
    recent.vector("b", embed)
    recent.vector("a", embed)  # a is now the most recent
    recent.vector("c", embed)  # lets b go
    assert len(recent) == 2
    recent.vector("a", embed)
    recent.vector("b", embed)
    assert embed.calls == ["a", "b", "c", "b"]


def test_a_size_of_zero_holds_nothing() -> None:
    recent, embed = RecentQueries(size=0), _Counting()
    recent.vector("a", embed)
    recent.vector("a", embed)
    assert embed.calls == ["a", "a"] and len(recent) == 0


def test_threads_asking_at_once_each_get_their_own_querys_vector() -> None:
    recent = RecentQueries(size=16)
    texts = [f"query {i % 24}" for i in range(400)]  # more texts than it holds: evictions while others read
    wrong: list[str] = []

    def embed(text: str) -> np.ndarray:
        return np.full(4, float(text.split()[1]), dtype=np.float32)

    def ask(part: list[str]) -> None:
        for text in part:
            if recent.vector(text, embed)[0] != float(text.split()[1]):
                wrong.append(text)

    threads = [threading.Thread(target=ask, args=(texts[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong and len(recent) == 16


def test_the_model_embedder_embeds_a_repeated_query_once(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(None, home=tmp_path)
    counting = _Counting()

    class _Encoder:
        def encode(self, text: str) -> np.ndarray:
            return counting(text)

    embedder._fast_query, embedder._query_encoder_checked = _Encoder(), True  # type: ignore[assignment]
    first = embedder.embed_query("troops near Izium")
    assert np.array_equal(embedder.embed_query("troops near Izium"), first)
    embedder.embed_query("troops near Kupiansk")
    assert counting.calls == ["troops near Izium", "troops near Kupiansk"]
