"""Prompt-ready context for retrieval-augmented generation (RAG).

Search results become numbered passages, each followed by its citation::

    [1] Russian forces shelled the city overnight ...
    (Source: BBC, Kharkiv shelled again, 2022-03-01, https://bbc.co.uk/...; also carried by 2 other outlets: CNN, Reuters)

One number per article: passages of the same article are quoted together, in
article order, with overlapping chunk text joined rather than repeated. A
passage that several outlets carried is quoted once and cites all of them.
The whole text never exceeds the token budget, counted with the embedder's
tokenizer; passages that do not fit are left out whole, never cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from archive.errors import InvalidQueryError
from archive.results import SearchResult, Source
from archive.text.chunk import bounded_counter
from archive.validation import check_number

__all__ = ["Citation", "RagContext", "build_context", "format_citation"]

TokenCounter = Callable[[str], int]
_GAP = " … "  # between two passages of one article that are not contiguous


@dataclass(frozen=True)
class Citation:
    """One numbered source block: the article(s) that carried the quoted passages.

    ``sources`` lists every copy, earliest first; ``sources[0]`` is the one
    cited, the others are named as "also carried by".
    """

    number: int
    sources: tuple[Source, ...]
    passages: tuple[SearchResult, ...]

    @property
    def primary(self) -> Source:
        return self.sources[0]


@dataclass(frozen=True)
class RagContext:
    """What :meth:`archive.Archive.context` returns.

    ``text`` is ready to paste into a prompt ("" when nothing matched);
    ``sources`` are the citations in numbering order (``sources[0]`` is
    ``[1]``); ``results`` the quoted search results in citation order;
    ``token_count`` is the size of ``text`` and ``dropped`` how many search
    results did not fit the budget.
    """

    query: str
    text: str
    sources: list[Citation] = field(default_factory=list)
    results: list[SearchResult] = field(default_factory=list)
    token_count: int = 0
    max_tokens: int = 0
    dropped: int = 0


def build_context(
    query: str, results: Sequence[SearchResult], *, count_tokens: TokenCounter, max_tokens: int = 1500
) -> RagContext:
    """Number and cite ``results`` (best first) within ``max_tokens`` tokens.

    Results are taken greedily by rank: one that would push the text over the
    budget is skipped and the next, possibly shorter, one is tried.
    """
    check_number("max_tokens", max_tokens, minimum=1, integer=True, error=InvalidQueryError)
    count_tokens = bounded_counter(count_tokens)  # a run without spaces must not count as one token
    blocks: list[list[SearchResult]] = []
    text, tokens, dropped = "", 0, 0
    for result in results:
        trial = _with_result(blocks, result)
        if trial is None:
            continue  # the same passage is already quoted
        candidate = render_blocks(trial)
        size = count_tokens(candidate)
        if size > max_tokens:
            dropped += 1
            continue
        blocks, text, tokens = trial, candidate, size
    citations = [
        Citation(number, _block_sources(block), tuple(_in_article_order(block)))
        for number, block in enumerate(blocks, start=1)
    ]
    quoted = [result for citation in citations for result in citation.passages]
    return RagContext(query, text, citations, quoted, tokens, max_tokens, dropped)


def render_blocks(blocks: Sequence[Sequence[SearchResult]]) -> str:
    """The prompt text for citation blocks, numbered from 1."""
    parts = []
    for number, block in enumerate(blocks, start=1):
        parts.append(f"[{number}] {_excerpt(_in_article_order(block))}\n{format_citation(_block_sources(block))}")
    return "\n\n".join(parts)


def format_citation(sources: Sequence[Source]) -> str:
    """``(Source: Outlet, Title, YYYY-MM-DD, URL; also carried by N other outlets: A, B)``."""
    if not sources:
        return "(Source: unknown)"
    first = sources[0]
    parts = [p for p in (first.outlet, first.title, (first.published or "")[:10], first.url) if p]
    line = "Source: " + (", ".join(parts) or "unknown")
    others = list(dict.fromkeys(s.outlet for s in sources[1:] if s.outlet and s.outlet != first.outlet))
    if others:
        noun = "outlet" if len(others) == 1 else "outlets"
        line += f"; also carried by {len(others)} other {noun}: {', '.join(others)}"
    return f"({line})"


def _with_result(blocks: list[list[SearchResult]], result: SearchResult) -> list[list[SearchResult]] | None:
    """A copy of ``blocks`` with ``result`` added to its article's block (or a new one); None if already there."""
    trial = [list(block) for block in blocks]
    for block in trial:
        if block[0].article_id == result.article_id:
            if any(r.chunk_id == result.chunk_id for r in block):
                return None
            block.append(result)
            return trial
    trial.append([result])
    return trial


def _in_article_order(block: Sequence[SearchResult]) -> list[SearchResult]:
    return sorted(block, key=lambda r: (r.char_start, r.char_end))


def _block_sources(block: Sequence[SearchResult]) -> tuple[Source, ...]:
    """Every source of the block's passages, de-duplicated, earliest first (as search lists them)."""
    seen: dict[int, Source] = {}
    for result in block:
        for source in result.sources or (_own_source(result),):
            seen.setdefault(source.article_id, source)
    return tuple(sorted(seen.values(), key=lambda s: (s.published or "9999", s.article_id)))


def _own_source(result: SearchResult) -> Source:
    return Source(result.article_id, result.outlet, result.title, result.url, result.published)


def _excerpt(passages: Sequence[SearchResult]) -> str:
    """Passages of one article joined: overlapping chunks merge, distant ones are separated by an ellipsis.

    Chunks are exact slices of the article text, so offsets say how much of the
    next chunk repeats the previous one.
    """
    text, end = "", None
    for passage in passages:
        if end is None:
            text, end = passage.text, passage.char_end
        elif passage.char_start <= end:
            if passage.char_end > end:
                text, end = text + passage.text[end - passage.char_start :], passage.char_end
        else:
            text, end = text.rstrip() + _GAP + passage.text.lstrip(), passage.char_end
    return " ".join(text.split())  # paragraph breaks would blur where a numbered block ends
