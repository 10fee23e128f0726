"""One search of a ready SQLite archive without opening an :class:`archive.api.Archive`: what
``archive search`` tries first.

Opening an Archive imports SQLAlchemy and the ORM, which costs a one-shot search more than
the search itself. Here the archive file is read through the driver alone
(``archive.store.open.open_snapshot``) and the query runs through the very same
``build_params`` and ``run_search`` as :meth:`Archive.search`, so the results are the same, with one
difference: this path loads no shared vector matrix (``DirectSnapshot.reader``), so its cosines come from
sqlite-vec's arithmetic (equal to NumPy's but for the last float32 bits) and, between the prefilter
threshold and ``knn.MATRIX_MAX_ROWS`` passages, its candidates from the vec0 bit table; a near tie may
then rank the other way.
Whenever this path cannot answer as ``Archive.search`` would (a server URL, a missing file,
a schema not at head, another model asked for, a bad argument, any error), it returns None
and the caller opens the Archive, which answers or reports the problem in its usual words.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from archive.arguments import check_search
from archive.config import Settings
from archive.embedding.loader import load_embedder, same_model, spec_for
from archive.results import SearchResult
from archive.search.params import build_params
from archive.search.run import run_search
from archive.search.variants import load_variants
from archive.store.open import open_snapshot

if TYPE_CHECKING:
    from archive.embedding.base import Embedder
    from archive.store.interface import SearchSnapshot

_log = logging.getLogger(__name__)


def quick_search(
    query: str,
    *,
    db: str | Path | None = None,
    model: str | None = None,
    home: str | Path | None = None,
    k: int = 10,
    mode: str = "hybrid",
    since: str | None = None,
    until: str | None = None,
    outlets: Sequence[str] | None = None,
    language: str | None = None,
    dedup: bool = True,
    semantic_weight: float = 1.0,
    keyword_weight: float = 1.0,
    per_article: int | None = None,
    passages: bool = False,
    min_score: float | None = None,
) -> list[SearchResult] | None:
    """:meth:`Archive.search`'s results for these arguments, or None when the Archive must answer."""
    try:
        check_search(query, k, mode, since, until, outlets, language, (semantic_weight, keyword_weight))
        settings = Settings.resolve(db=db, model=model, home=home)
        snapshot = open_snapshot(settings.db_location)
    except Exception:
        _log.debug("quick search handed back to Archive.search", exc_info=True)
        return None
    if snapshot is None:
        return None
    try:
        embedder = _embedder(snapshot, settings)
        if embedder is None:
            return None
        reader = snapshot.reader(prefilter_min_rows=settings.prefilter_min_rows)
        variants = load_variants(settings.variants_file)
        params = build_params(
            reader,
            query,
            variants=variants,
            k=k,
            mode=mode,
            since=since,
            until=until,
            outlets=outlets,
            language=language,
            dedup=dedup,
            semantic_weight=semantic_weight,
            keyword_weight=keyword_weight,
            per_article=per_article,
            passages=passages,
            min_score=min_score,
        )
        return run_search(reader, embedder, params, variants=variants)
    except Exception:  # Archive.search answers, or reports it in its own words
        _log.debug("quick search handed back to Archive.search", exc_info=True)
        return None
    finally:
        with contextlib.suppress(Exception):  # a read snapshot: nothing to lose in closing it
            snapshot.close()


def _embedder(snapshot: SearchSnapshot, settings: Settings) -> Embedder | None:
    """The recorded model's embedder; None when another model is asked for (Archive.open says how to
    switch) or its vectors do not fit the table."""
    active, asked = snapshot.model, settings.model
    if asked and not (same_model(active.name, asked) or spec_for(active.name) == asked):
        return None
    embedder = load_embedder(spec_for(active.name), home=settings.home, options=settings.embedding)
    return embedder if embedder.dimension == snapshot.dimension else None
