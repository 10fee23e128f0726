"""archive.store.interface: callers above the store reach SQLite only through the protocols and the factory."""

from __future__ import annotations

import re
from pathlib import Path

from archive import Archive
from archive.store.records import ChunkRow

ROOT = Path(__file__).resolve().parent.parent / "archive"


def test_only_the_factory_imports_the_sqlite_backend() -> None:
    importers = sorted(
        str(path.relative_to(ROOT.parent))
        for path in ROOT.rglob("*.py")
        if "store" not in path.relative_to(ROOT).parts[:1]
        and re.search(r"^\s*(from|import) archive\.store\.sqlite", path.read_text(), re.M)
    )
    assert importers == []


def test_a_writer_transaction_commits_and_a_reader_sees_it(archive: Archive) -> None:
    store = archive.store()
    with store.writer() as writer:
        source = writer.source_id_for("Interface Outlet")
        article = writer.add_article(title="Interface", text="Shelling reported.", source_id=source, content_hash="h1")
        writer.add_chunks(article, [ChunkRow(0, "Shelling reported.", 0, 18, 3, "t1", None)])
    with store.reader() as reader:
        found = reader.article(article)
        assert found is not None and found.outlet == "Interface Outlet"
        assert reader.chunk_texts(article)[0][2] == "Shelling reported."
        assert reader.counts()["articles"] == 1


def test_a_failed_writer_transaction_leaves_nothing(archive: Archive) -> None:
    store = archive.store()
    try:
        with store.writer() as writer:
            writer.add_article(title="Gone", text="x", content_hash="h2")
            raise RuntimeError("midway")
    except RuntimeError:
        pass
    with store.reader() as reader:
        assert reader.counts()["articles"] == 0
