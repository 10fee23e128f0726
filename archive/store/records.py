"""Plain values that cross the store interface (no ORM rows, no sessions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from archive.text.dates import date_key


@dataclass(frozen=True)
class SentenceSeen:
    """One sentence of one new story, to be counted."""

    source_id: int
    key: int
    published: str | None
    text: str


@dataclass(frozen=True)
class LearnedSentence:
    """A sentence learned as an outlet's furniture, with the stories and dates it was seen in."""

    outlet: str
    text: str
    stories: int
    first_published: str | None
    last_published: str | None
    opening: str | None = None  # learned too: removed wherever a sentence starts with these words

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StoredCopy:
    id: int
    content_hash: str
    canonical_url: str | None
    source_id: int | None
    has_text: bool
    canonical_id: int | None = None  # the article holding the text, for an exact copy (has_text False)


@dataclass(frozen=True)
class Candidate:
    """A stored article sharing an LSH band key with a new one."""

    id: int
    link_to: int  # a near-duplicate's canonical, so copies of copies point at the first article
    minhash: bytes


@dataclass(frozen=True)
class ChunkRow:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int
    text_hash: str
    group_id: int | None


@dataclass(frozen=True)
class OutletRow:
    name: str
    articles: int
    first_published: str | None
    last_published: str | None


@dataclass(frozen=True)
class ArticleMeta:
    """What a timeline needs of one article."""

    id: int
    outlet: str | None
    source_id: int | None
    title: str
    url: str | None
    published: str | None
    duplicate_kind: str | None
    language: str | None = None


@dataclass(frozen=True)
class StoredArticle:
    """One stored article's own row (its text is None when it is an exact copy)."""

    id: int
    title: str
    text: str | None
    outlet: str | None
    url: str | None
    published_at: str | None
    canonical_id: int | None
    duplicate_kind: str | None


@dataclass(frozen=True)
class ArticleInput:
    """What an article's vector is made from (headline and text), and the metadata its row carries."""

    id: int
    title: str
    text: str
    source_id: int | None
    published_at: str | None
    language: str | None


@dataclass(frozen=True)
class ModelRecord:
    """The embedding model whose vectors (of ``passage_format`` inputs) fill ``vector_table``."""

    name: str
    dimension: int
    vector_table: str
    passage_format: str
    fingerprint: str | None = None
    article_vectors: bool = True  # every article holding text has its article vector
    precision: str | None = None  # what the vectors were computed in (merged_precision); None: none yet


def merged_precision(recorded: str | None, used: str) -> str:
    """What a model record says once vectors computed in ``used`` join those it ``recorded``.

    One precision stays its name; vectors of several are listed, sorted: "bfloat16+float32".
    """
    if not recorded:
        return used
    names = set(recorded.split("+"))
    return recorded if used in names else "+".join(sorted(names | {used}))


@dataclass(frozen=True)
class Check:
    """One health check: ``status`` is ok, warn or fail; ``fix`` says what to do when it is not ok."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Health:
    """A backend's doctor checks, and the active model's name when one is recorded."""

    checks: list[Check] = field(default_factory=list)
    model: str | None = None


# (chunk or article id, float32 bytes, source id, published YYYYMMDD, language): one row of a vector table
VectorRow = tuple[int, bytes, int, int, str]


def vector_row(
    row_id: int, vector: bytes, source_id: int | None, published: str | None, language: str | None
) -> VectorRow:
    """A vector with the metadata KNN filters on: outlet (0 when unknown), day key, language ("" when unknown)."""
    return (row_id, vector, source_id or 0, date_key(published), language or "")
