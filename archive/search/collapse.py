"""From ranked candidates to results: one per article (or per passage), copies and shared text collapsed.

A story is an article with every copy the ingest linked to it (exact and near duplicates).
Two results are also one when they share a long span of text (``archive.dedup.overlap``):
the same wire paragraph inside two otherwise different articles, cut at other boundaries.
The merged result lists every source, earliest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from archive.dedup.overlap import share_a_span, spans
from archive.results import MatchedPassage, SearchResult, Source
from archive.search.fusion import Candidates, passage_scores, story_scores
from archive.search.params import SearchParams, highlight_words, highlighted
from archive.search.variants import Variants
from archive.store.interface import Carrier, Passage, SearchReader, Vector

MAX_ATTACHED = 5  # other matching passages shown with an article's best one
WINDOW = 50  # stories whose passages are fetched together
ECHO_HORIZON = 40  # stories looked at past the k-th result for copies of a chosen one


@dataclass
class _Chosen:
    """A result being built: its passages, their text spans, and every article that carries it."""

    story: int
    passage: Passage
    score: float
    attached: list[Passage]
    spans: list[frozenset[int]]
    groups: set[int]
    merged_stories: list[int] = field(default_factory=list)  # other stories that repeat this one's text

    def echoes(self, passage: Passage, passage_spans: frozenset[int]) -> bool:
        """Same group, or a long span shared with one of these passages (``_Echoes`` asks only the
        results that share a group or a span with it)."""
        if passage.group_id is not None and passage.group_id in self.groups:
            return True
        return any(share_a_span(passage_spans, mine) for mine in self.spans)


class _Echoes:
    """The results chosen so far, indexed by the duplicate groups and the spans they hold: which one a
    passage repeats is then a set intersection with the index, not one set test per chosen result."""

    def __init__(self, dedup: bool) -> None:
        self.dedup = dedup
        self.chosen: list[_Chosen] = []
        self._by_group: dict[int, list[int]] = {}
        self._first_with_span: dict[int, int] = {}  # span -> the first chosen result holding it
        self._later_with_span: dict[int, list[int]] = {}  # span -> the later ones holding it too (few)

    def add(self, item: _Chosen) -> None:
        position = len(self.chosen)
        self.chosen.append(item)
        for group in item.groups:
            self._by_group.setdefault(group, []).append(position)
        held = frozenset().union(*item.spans)
        again = held & self._first_with_span.keys()
        for span in again:
            self._later_with_span.setdefault(span, []).append(position)
        self._first_with_span.update(dict.fromkeys(held - again, position))

    def merge(self, item: _Chosen, passage: Passage) -> None:
        """``passage`` repeats ``item``: later copies of its group are ``item``'s too."""
        group = passage.group_id or -passage.id
        if group not in item.groups:
            item.groups.add(group)
            self._by_group.setdefault(group, []).append(self.chosen.index(item))

    def first_echoed(self, passage: Passage, passage_spans: frozenset[int]) -> _Chosen | None:
        """The earliest chosen result ``passage`` repeats (same group, or a long shared span), if any."""
        if not self.dedup:
            return None
        positions: set[int] = set()
        if passage.group_id is not None:
            positions.update(self._by_group.get(passage.group_id, ()))
        for span in passage_spans & self._first_with_span.keys():
            positions.add(self._first_with_span[span])
            positions.update(self._later_with_span.get(span, ()))
        return next(
            (c for c in map(self.chosen.__getitem__, sorted(positions)) if c.echoes(passage, passage_spans)), None
        )


def article_results(
    reader: SearchReader, found: Candidates, params: SearchParams, vector: np.ndarray | None, variants: Variants
) -> list[SearchResult]:
    """Stories best first; each result is its best passage with the others attached (or up to per_article).

    Ranking needs only each candidate passage's story and group; the text and metadata are read for the
    passages a story may show (its best and the ``MAX_ATTACHED`` next), a window of stories at a time.
    """
    located = reader.passage_stories([c for c, _ in found.semantic] + [c for c, _ in found.keyword])
    story_of_passage = {cid: story for cid, (story, _) in located.items()}
    story_of_article = reader.story_ids([a for a, _ in found.articles + found.article_vectors])
    stories = story_scores(
        found, story_of_passage, story_of_article, params.mode, params.semantic_weight, params.keyword_weight
    )
    banned = _excluded_stories(reader, params, list(stories))
    own = passage_scores(found, params.mode, params.semantic_weight, params.keyword_weight)
    ranked: dict[int, list[int]] = {}  # story -> its candidate passages, best first
    for cid in sorted(own, key=lambda c: (-own[c], c)):
        if cid in located:
            ranked.setdefault(located[cid][0], []).append(cid)
    by_story: dict[int, list[Passage]] = {}  # story -> the passages it may show, read a window at a time
    order = sorted((s for s in stories if s not in banned), key=lambda s: (-stories[s], s))
    hit_article: dict[int, int] = {}
    for article_id, _ in found.articles + found.article_vectors:
        if article_id in story_of_article:
            hit_article.setdefault(story_of_article[article_id], article_id)
    cosines = _Cosines(reader, vector, found)
    echoes = _Echoes(params.dedup)
    chosen = echoes.chosen
    full_at: int | None = None
    for position, story in enumerate(order):
        if full_at is not None and position > full_at + ECHO_HORIZON + 2 * params.k:
            break  # far enough past the k-th result: nothing further down is shown or merged
        if position % WINDOW == 0:  # passages and cosines for the next window of stories, in a few queries
            window = order[position : position + WINDOW]
            _read_shown_passages(reader, [s for s in window if s in ranked], ranked, by_story)
            _fill_missing_passages(
                reader, {s: hit_article.get(s, s) for s in window if s not in ranked}, by_story, vector
            )
            cosines.prefetch([by_story[s][0] for s in window if by_story.get(s)])
        passages = by_story.get(story)
        if not passages:
            continue
        best = passages[0]
        if params.min_score is not None and (cosines.of(best) or -1.0) < params.min_score:
            continue
        best_spans = spans(best.text)
        echo = echoes.first_echoed(best, best_spans)
        if echo is not None:
            echoes.merge(echo, best)
            echo.merged_stories.append(story)
            continue
        if len(chosen) >= params.k:
            continue  # keep scanning a little: later stories may still echo a chosen one
        attached = passages[1 : 1 + MAX_ATTACHED]
        if len(chosen) + 1 == params.k:
            full_at = position
        echoes.add(
            _Chosen(
                story,
                best,
                stories[story],
                attached,
                [best_spans, *(spans(p.text) for p in attached)],
                _groups(ranked[story], located) if story in ranked else {p.group_id or -p.id for p in passages},
            )
        )
    carriers = reader.story_carriers(sorted({s for c in chosen for s in (c.story, *c.merged_stories)}))
    results: list[SearchResult] = []
    wanted = highlight_words(params.query, variants)
    for item in chosen:
        held = [r for s in (item.story, *item.merged_stories) for r in carriers.get(s, [])]
        sources = _sources(held, item.passage)
        shown = [item.passage, *item.attached][: params.per_article] if params.per_article else [item.passage]
        for passage in shown:
            others = () if params.per_article else tuple(_matched(p, cosines) for p in item.attached)
            results.append(_result(len(results) + 1, passage, item.score, cosines, sources, params, wanted, others))
    return results


def passage_results(
    reader: SearchReader, found: Candidates, params: SearchParams, vector: np.ndarray | None, variants: Variants
) -> list[SearchResult]:
    """Passages best first, one per group of duplicates and shared text (unless dedup is off)."""
    own = passage_scores(found, params.mode, params.semantic_weight, params.keyword_weight)
    details = reader.passages(list(own))
    banned = _excluded_stories(reader, params, list({p.story_id for p in details.values()}))
    cosines = _Cosines(reader, vector, found)
    echoes = _Echoes(params.dedup)
    chosen = echoes.chosen
    for cid in sorted(own, key=lambda c: (-own[c], c)):
        passage = details.get(cid)
        if passage is None or passage.story_id in banned:
            continue
        if params.min_score is not None and (cosines.of(passage) or -1.0) < params.min_score:
            continue
        passage_spans = spans(passage.text)
        echo = echoes.first_echoed(passage, passage_spans)
        if echo is not None:
            echoes.merge(echo, passage)
            continue
        if len(chosen) < params.k:
            echoes.add(_Chosen(passage.story_id, passage, own[cid], [], [passage_spans], {passage.group_id or -cid}))
    groups = sorted({g for c in chosen for g in c.groups if g > 0}) if params.dedup else []
    carriers = reader.group_carriers(groups)
    results: list[SearchResult] = []
    wanted = highlight_words(params.query, variants)
    for item in chosen:
        held = [r for g in sorted(item.groups) for r in carriers.get(g, [])]
        sources = _sources(held, item.passage)
        results.append(_result(len(results) + 1, item.passage, item.score, cosines, sources, params, wanted, ()))
    return results


class _Cosines:
    """Cosine of a passage and the query: from the KNN list when it is there, else from the stored vector.

    Also holds each candidate passage's BM25, reported with the result.
    """

    def __init__(self, reader: SearchReader, vector: np.ndarray | None, found: Candidates) -> None:
        self.reader, self.vector = reader, vector
        self.known = dict(found.semantic)
        self.bm25 = dict(found.keyword)

    def prefetch(self, passages: Sequence[Passage]) -> None:
        """Cosines of these passages, read in one query where the KNN list lacks them."""
        wanted = [p.id for p in passages if p.id not in self.known]
        if self.vector is None or not wanted:
            return
        self.known.update(_cosines(self.reader.vectors(wanted), self.vector))

    def of(self, passage: Passage) -> float | None:
        if self.vector is None:
            return None
        if passage.id not in self.known:
            stored = self.reader.vectors([passage.id]).get(passage.id)
            if stored is None:
                return None
            self.known[passage.id] = float(np.dot(stored, self.vector))
        return self.known[passage.id]


def _excluded_stories(reader: SearchReader, params: SearchParams, stories: Sequence[int]) -> set[int]:
    """Stories whose article holds a word or phrase the query excludes (``-word``)."""
    if params.keyword is None or not params.keyword.excluded or not stories:
        return set()
    return reader.articles_matching(params.keyword.excluded, stories)


def _read_shown_passages(
    reader: SearchReader, stories: Sequence[int], ranked: dict[int, list[int]], by_story: dict[int, list[Passage]]
) -> None:
    """The passages each of ``stories`` may show (its best candidates), read in one query."""
    shown = {story: ranked[story][: 1 + MAX_ATTACHED] for story in stories}
    details = reader.passages([cid for cids in shown.values() for cid in cids])
    for story, cids in shown.items():
        by_story[story] = [details[cid] for cid in cids if cid in details]


def _groups(passages: Sequence[int], located: dict[int, tuple[int, int | None]]) -> set[int]:
    """The duplicate groups of a story's candidate passages (a passage in none stands for itself)."""
    return {located[cid][1] or -cid for cid in passages}


def _fill_missing_passages(
    reader: SearchReader, stories: dict[int, int], by_story: dict[int, list[Passage]], vector: np.ndarray | None
) -> None:
    """Stories found by the whole-article match alone: the passage of the matching article (``stories``:
    story -> that article; an exact copy has none, then its story's) closest to the query, else the first."""
    own = reader.story_passages(list(dict.fromkeys(stories.values())))
    roots = reader.story_passages([s for s, a in stories.items() if a not in own])
    ids = {s: own.get(a) or roots.get(s, []) for s, a in stories.items()}
    ids = {s: cids for s, cids in ids.items() if cids}
    if not ids:
        return
    if vector is not None:
        closeness = _cosines(reader.vectors([cid for cids in ids.values() for cid in cids]), vector)
        if closeness:
            ids = {s: sorted(cids, key=lambda c: -closeness.get(c, 0.0)) for s, cids in ids.items()}
    details = reader.passages([cids[0] for cids in ids.values()])  # only the passage each story shows
    unread = [c for cids in ids.values() if cids[0] not in details for c in cids[1:]]
    details.update(reader.passages(unread) if unread else {})
    copies = {s: a for s, a in stories.items() if a not in own and a != s}
    carriers = reader.story_carriers(list(copies)) if copies else {}
    for story, cids in ids.items():
        first = next((details[c] for c in cids if c in details), None)
        if first is None:
            continue
        copy = next((c for c in carriers.get(story, []) if c.id == copies.get(story)), None)
        if copy is not None:  # an exact copy matched (its outlet passed the filters): show it as that copy
            first = replace(
                first,
                article_id=copy.id,
                title=copy.title,
                url=copy.url,
                published_at=copy.published_at,
                outlet=copy.outlet,
            )
        by_story[story] = [first]


def _cosines(vectors: dict[int, Vector], query: np.ndarray) -> dict[int, float]:
    """The dot product of each stored vector with the query (what the KNN lists' cosines are), in one product."""
    if not vectors:
        return {}
    products = np.stack(list(vectors.values())) @ np.asarray(query, dtype=np.float32)
    return dict(zip(vectors, products.tolist()))


def _sources(carriers: Sequence[Carrier], passage: Passage) -> tuple[Source, ...]:
    unique = {c.id: c for c in carriers}
    if not unique:
        return (Source(passage.article_id, passage.outlet, passage.title, passage.url, passage.published_at),)
    listed = sorted(unique.values(), key=lambda r: (r.published_at or "9999", r.id))
    return tuple(Source(r.id, r.outlet, r.title, r.url, r.published_at, r.duplicate_kind) for r in listed)


def _matched(passage: Passage, cosines: _Cosines) -> MatchedPassage:
    return MatchedPassage(passage.id, passage.char_start, passage.char_end, passage.text, cosines.of(passage))


def _result(
    rank: int,
    passage: Passage,
    score: float,
    cosines: _Cosines,
    sources: tuple[Source, ...],
    params: SearchParams,
    wanted: frozenset[str],
    others: tuple[MatchedPassage, ...],
) -> SearchResult:
    similarity = cosines.of(passage)
    scores = {"semantic": similarity} if similarity is not None and params.mode != "keyword" else {}
    if passage.id in cosines.bm25:
        scores["keyword"] = -cosines.bm25[passage.id]
    if params.mode == "hybrid":
        scores["rrf"] = score
    return SearchResult(
        rank=rank,
        score=float(score),
        text=passage.text,
        article_id=passage.article_id,
        chunk_id=passage.id,
        char_start=passage.char_start,
        char_end=passage.char_end,
        outlet=passage.outlet,
        title=passage.title,
        url=passage.url,
        published=passage.published_at,
        sources=sources,
        scores={k: float(v) for k, v in scores.items()},
        highlights=highlighted(wanted, passage.text),
        group_id=passage.group_id,
        similarity=similarity,
        passages=others,
    )
