"""archive.arguments: the library refuses wrong argument types with an ArchiveError naming the argument."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from archive.errors import ArchiveError, InvalidArgumentError


def test_open_refuses_a_path_that_is_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="db must be a path") as caught:
        Archive.open(123)  # type: ignore[arg-type]
    assert isinstance(caught.value, ArchiveError) and isinstance(caught.value, TypeError)
    with pytest.raises(InvalidArgumentError, match="model must be str"):
        Archive.open(tmp_path / "a.db", model=7)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="embedder must be an Embedder"):
        Archive.open(tmp_path / "a.db", embedder="fake")  # type: ignore[arg-type]
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize(
    ("query", "options", "named"),
    [
        (None, {}, "query"),
        (b"bytes", {}, "query"),
        ("grain", {"k": "x"}, "k"),
        ("grain", {"k": True}, "k"),
        ("grain", {"k": 2.5}, "k"),
        ("grain", {"mode": None}, "mode"),
        ("grain", {"since": 2022}, "since"),
        ("grain", {"outlets": "Reuters"}, "outlets"),
        ("grain", {"outlets": [1]}, "each of outlets"),
        ("grain", {"semantic_weight": "high"}, "semantic_weight"),
    ],
)
def test_search_refuses_wrong_types(archive: Archive, query: Any, options: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^{named} must be"):
        archive.search(query, **options)


def test_other_calls_refuse_wrong_types(archive: Archive) -> None:
    with pytest.raises(InvalidArgumentError, match="paths must be a list"):
        archive.ingest("articles.jsonl")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="article_id must be int"):
        archive.article("3")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="query must be str"):
        archive.context(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="target must be a path"):
        archive.backup(None)  # type: ignore[arg-type]
