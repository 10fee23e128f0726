"""Hashing and near-duplicate detection, defined once, as pure functions.

Nothing here does I/O or SQL: text goes in, hashes, signatures and pairs come
out. The store persists what these functions produce (``content_hash``, the
MinHash signature as a BLOB, one row per LSH band key) and looks candidates up
by band key in SQL; :func:`find_near_duplicates` does the same in memory.

Exact duplicates
    :func:`content_hash` is the sha256 of :func:`normalize_for_hash`, which
    keeps only the word characters of the NFKC, casefolded text, one space
    apart. Whitespace, case, quote style and punctuation do not change it.

Shingles
    A text is cut into the same words (``\\w+`` runs of the normalized text),
    and every run of ``k = 5`` consecutive words is a shingle, hashed to an
    unsigned 64-bit integer (blake2b per word, combined with a fixed mixer, so
    the hash is the same in every process and on every machine). Five-word
    shingles are specific to copied prose: two unrelated articles on the same
    topic share almost none, while 3-grams ("the prime minister", "said on
    monday") link articles that merely cover the same story. It is also how
    the BBC ground truth (``near_duplicate_pairs_j050.json``) was measured:
    word 5-grams of the lowercased ``\\w+`` tokens of the body; :func:`jaccard`
    reproduces its numbers to their four decimals.

MinHash and LSH
    A :class:`MinHasher` applies ``num_perm`` seeded 64-bit permutations
    (xor with a per-permutation seed, then the murmur3 finalizer, a bijection)
    to the shingle hashes and keeps each minimum (top 32 bits): the fraction of
    equal positions between two signatures estimates their Jaccard similarity
    ``s`` (standard error ``sqrt(s(1-s)/num_perm)``, 0.045 at s = 0.5).

    The signature is cut into ``b = bands`` bands of ``r = num_perm // bands``
    rows. Two texts become candidates when all ``r`` rows of at least one band
    agree, so the probability that a pair at Jaccard ``s`` becomes a candidate
    is the S-curve::

        P(s) = 1 - (1 - s**r) ** b

    whose steep part sits near ``(1/b) ** (1/r)``. Defaults: ``num_perm=128``,
    ``bands=42``, ``r=3`` (126 rows used, the last 2 values only feed the
    similarity estimate); the S-curve midpoint is at ``(1/42)**(1/3) = 0.29``:

        s     0.05   0.1    0.2    0.3    0.4    0.5    0.6    0.8
        P(s)  0.005  0.041  0.29   0.68   0.94   0.996  1.000  1.000

    With the default ``threshold=0.5`` a pair at the threshold is missed with
    probability 0.004, while pairs of unrelated articles (5-gram Jaccard
    usually below 0.02) almost never become candidates. ``verify=True`` then
    keeps a candidate only if its exact Jaccard is >= threshold, so every
    reported pair is right by construction; the LSH step only decides recall.
    Measured (``scripts/eval_dedup.py``): on the BBC set all 103 exact groups
    and 31/31 near-duplicate pairs, no false positive (30/31 with one false
    positive when ``verify=False`` scores by the estimate). On the 11,117
    ukraine_media articles (62M pairs) LSH proposes about 4,800 candidates and
    finds all 127 pairs that a brute-force exact Jaccard puts at >= 0.5;
    ``bands=32, r=4`` (P(0.5) = 0.87) proposed 461 but missed one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_SHINGLE_SIZE",
    "DEFAULT_THRESHOLD",
    "MinHasher",
    "candidate_probability",
    "canonical_url",
    "content_hash",
    "find_near_duplicates",
    "group_pairs",
    "jaccard",
    "jaccard_of_shingles",
    "normalize_for_hash",
    "word_shingles",
]

DEFAULT_SHINGLE_SIZE = 5
DEFAULT_THRESHOLD = 0.5

Shingles = npt.NDArray[np.uint64]
Signature = npt.NDArray[np.uint32]

_WORD_RE = re.compile(r"\w+")
_U64 = np.uint64
_EMPTY_SLOT = np.uint32(0xFFFFFFFF)  # every position of the signature of "no shingles"
_MIX_MULTIPLIER = _U64(0x9E3779B97F4A7C15)  # odd, so multiplying by it is a bijection
_CHUNK_CELLS = 1 << 20  # bounds the (num_perm x shingles) scratch matrix to 8 MiB
_BAND_BITS = 8  # top 8 bits of a band key hold the band index
_BAND_HASH_MASK = (1 << (64 - _BAND_BITS)) - 1

# Query parameters that only say where a click came from; they never change the page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "ocid",
        "cmpid",
        "cmp",
        "intcmp",
        "icid",
        "ito",
        "s_cid",
        "smid",
        "smtyp",
        "taid",
        "soc_src",
        "soc_trk",
    }
)
# utm_: Google Analytics; ns_ and at_: BBC (comScore, AT Internet); pk_, mtm_: Matomo; hsa_: HubSpot.
_TRACKING_PREFIXES = ("utm_", "ns_", "at_", "pk_", "mtm_", "hsa_")


# --------------------------------------------------------------------- exact


def _words(text: str) -> list[str]:
    """The words of ``text``: ``\\w+`` runs of its NFKC, casefolded form."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold())


def normalize_for_hash(text: str) -> str:
    """Return the form of ``text`` that exact-duplicate hashing compares.

    NFKC, casefold, every run of non-word characters (whitespace, punctuation,
    straight or curly quotes, dashes, symbols) becomes one space, ends stripped.
    Two texts that differ only in those respects normalize to the same string.
    """
    return " ".join(_words(text))


def content_hash(text: str) -> str:
    """Return the sha256 hex digest of :func:`normalize_for_hash` of ``text``."""
    return hashlib.sha256(normalize_for_hash(text).encode("utf-8")).hexdigest()


def _is_tracking_param(name: str) -> bool:
    key = name.lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def _canonical_host(netloc: str, scheme: str) -> str:
    """Lowercased host without userinfo, "www." and the scheme's default port."""
    host = netloc.rsplit("@", 1)[-1].lower()
    for default in (":80", ":443") if scheme in ("http", "https") else ():
        if host.endswith(default):
            host = host[: -len(default)]
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def canonical_url(url: str | None) -> str | None:
    """Return one spelling for every URL of the same page, or None for no URL.

    http becomes https, scheme and host are lowercased, "www.", default ports,
    the fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``,
    ``ref``, ``ocid``, ``cmpid``, ...) are dropped, the remaining parameters
    are sorted and a trailing "/" is removed (the root path stays "/").
    Anything that is not an http(s) URL (a file path, ``mailto:``) is returned
    stripped but otherwise unchanged; None or blank gives None.
    """
    if url is None or not url.strip():
        return None
    raw = url.strip()
    if raw.startswith("//"):
        raw = "https:" + raw
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return raw
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return raw
    host = _canonical_host(parts.netloc, scheme)
    path = parts.path.rstrip("/") or "/"
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking_param(k)]
    query = urlencode(sorted(params))
    return urlunsplit(("https", host, path, query, ""))


# ------------------------------------------------------------------ shingles


def _fmix64(x: Shingles) -> Shingles:
    """murmur3's 64-bit finalizer, in place: a bijection that avalanches every bit."""
    x ^= x >> _U64(33)
    x *= _U64(0xFF51AFD7ED558CCD)
    x ^= x >> _U64(33)
    x *= _U64(0xC4CEB9FE1A85EC53)
    x ^= x >> _U64(33)
    return x


def _stable_u64(data: str) -> int:
    """A 64-bit hash of ``data`` that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "little")


@lru_cache(maxsize=1 << 18)
def _word_hash(word: str) -> int:
    """:func:`_stable_u64` memoized: news vocabulary repeats, blake2b calls add up."""
    return _stable_u64(word)


def word_shingles(text: str, k: int = DEFAULT_SHINGLE_SIZE) -> Shingles:
    """Return the word ``k``-gram shingles of ``text`` as sorted unique uint64 hashes.

    Words are those of :func:`normalize_for_hash`; a text with fewer than ``k``
    (but at least one) words is one shingle; a text without words has none.
    Hashes rather than strings: MinHash needs them anyway, set operations on
    sorted arrays are fast, and a 64-bit collision is too rare to matter.
    """
    if k < 1:
        raise ValueError(f"shingle size k must be >= 1, got {k}")
    words = _words(text)
    if not words:
        return np.empty(0, dtype=np.uint64)
    hashes = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    width = min(k, hashes.size)
    count = hashes.size - width + 1
    acc = hashes[:count].copy()
    with np.errstate(over="ignore"):
        # A polynomial in the (random) word hashes keeps word order; one
        # finalizer at the end spreads it over all 64 bits.
        for offset in range(1, width):
            acc *= _MIX_MULTIPLIER
            acc += hashes[offset : offset + count]
        acc += _U64(width)
        return np.unique(_fmix64(acc))


def jaccard_of_shingles(a: Shingles, b: Shingles) -> float:
    """Exact Jaccard similarity of two :func:`word_shingles` results (0.0 if either is empty)."""
    if a.size == 0 or b.size == 0:
        return 0.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


def jaccard(a_text: str, b_text: str, k: int = DEFAULT_SHINGLE_SIZE) -> float:
    """Exact Jaccard similarity of the word ``k``-gram shingles of two texts.

    A text without words is similar to nothing (0.0), not even to another
    empty text: identical texts are the business of :func:`content_hash`.
    """
    return jaccard_of_shingles(word_shingles(a_text, k), word_shingles(b_text, k))


def candidate_probability(s: float, rows: int, bands: int) -> float:
    """Probability that a pair at Jaccard ``s`` shares a band key: ``1 - (1 - s**r)**b``."""
    return 1.0 - (1.0 - s**rows) ** bands


# ------------------------------------------------------------------- MinHash


@dataclass(frozen=True)
class MinHasher:
    """MinHash signatures and LSH band keys for word shingles.

    Signatures made with different settings are not comparable: store
    :attr:`name` next to them and refuse to mix. See the module docstring for
    why the defaults are what they are.
    """

    num_perm: int = 128
    bands: int = 42
    shingle_size: int = DEFAULT_SHINGLE_SIZE
    seed: int = 1

    def __post_init__(self) -> None:
        if self.num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {self.num_perm}")
        if not 1 <= self.bands <= min(self.num_perm, 1 << _BAND_BITS):
            limit = min(self.num_perm, 1 << _BAND_BITS)
            raise ValueError(f"bands must be between 1 and {limit} (num_perm={self.num_perm}), got {self.bands}")
        if self.shingle_size < 1:
            raise ValueError(f"shingle_size must be >= 1, got {self.shingle_size}")

    @property
    def rows(self) -> int:
        """Signature positions per band: ``num_perm // bands``."""
        return self.num_perm // self.bands

    @property
    def name(self) -> str:
        """Identifies the settings; equal names mean comparable signatures and keys."""
        return f"minhash-w{self.shingle_size}-p{self.num_perm}-b{self.bands}-s{self.seed}"

    @cached_property
    def _perm_seeds(self) -> npt.NDArray[np.uint64]:
        seeds = [_stable_u64(f"minhash:{self.seed}:{i}") for i in range(self.num_perm)]
        return np.array(seeds, dtype=np.uint64)[:, None]

    def signature(self, text: str) -> Signature:
        """Return the MinHash signature of ``text``: uint32 array of shape ``(num_perm,)``."""
        return self.signature_of_shingles(word_shingles(text, self.shingle_size))

    def signature_of_shingles(self, shingles: Shingles) -> Signature:
        """Signature of precomputed shingles (made with ``k = shingle_size``)."""
        mins = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        step = max(1, _CHUNK_CELLS // self.num_perm)
        with np.errstate(over="ignore"):
            for start in range(0, shingles.size, step):
                block = shingles[None, start : start + step] ^ self._perm_seeds
                np.minimum(mins, _fmix64(block).min(axis=1), out=mins)
        high: npt.NDArray[np.uint64] = mins >> _U64(32)
        return high.astype(np.uint32)

    def band_keys(self, signature: Signature) -> list[int]:
        """Return one signed 64-bit key per band (fits a SQLite INTEGER).

        The top 8 bits are the band index, so keys of different bands never
        collide; the other 56 bits hash the band's rows. The signature of a
        text without words has no keys: such texts are never candidates.
        """
        sig = self._checked(signature)
        if bool(np.all(sig == _EMPTY_SLOT)):
            return []
        rows = self.rows
        keys = []
        for band in range(self.bands):
            chunk = sig[band * rows : (band + 1) * rows].astype("<u4").tobytes()
            digest = int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "little")
            key = (band << (64 - _BAND_BITS)) | (digest & _BAND_HASH_MASK)
            keys.append(key - (1 << 64) if key >= 1 << 63 else key)
        return keys

    def similarity(self, sig_a: Signature, sig_b: Signature) -> float:
        """Estimated Jaccard: the fraction of equal positions (0.0 for a text without words)."""
        a, b = self._checked(sig_a), self._checked(sig_b)
        if bool(np.all(a == _EMPTY_SLOT)) or bool(np.all(b == _EMPTY_SLOT)):
            return 0.0
        return float(np.count_nonzero(a == b)) / self.num_perm

    def to_bytes(self, signature: Signature) -> bytes:
        """Serialize a signature for a BLOB column (little-endian uint32, 4 bytes a position)."""
        return self._checked(signature).astype("<u4").tobytes()

    def from_bytes(self, data: bytes) -> Signature:
        """Inverse of :meth:`to_bytes`; raises ValueError when the length does not fit."""
        if len(data) != 4 * self.num_perm:
            raise ValueError(
                f"a {self.name} signature is {4 * self.num_perm} bytes, got {len(data)}: "
                "was it made with other MinHasher settings?"
            )
        return np.frombuffer(data, dtype="<u4").astype(np.uint32)

    def _checked(self, signature: Signature) -> Signature:
        sig = np.asarray(signature)
        if sig.shape != (self.num_perm,):
            raise ValueError(f"expected a signature of shape ({self.num_perm},), got {sig.shape}")
        return sig.astype(np.uint32, copy=False)


# -------------------------------------------------------- pairs and groups


def _candidate_pairs(keys_per_text: Sequence[list[int]]) -> set[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of texts that share at least one band key."""
    buckets: defaultdict[int, list[int]] = defaultdict(list)
    for index, keys in enumerate(keys_per_text):
        for key in keys:
            buckets[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        for pos, i in enumerate(members):
            pairs.update((i, j) for j in members[pos + 1 :])
    return pairs


def find_near_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    hasher: MinHasher | None = None,
    verify: bool = True,
) -> list[tuple[int, int, float]]:
    """Return ``(i, j, similarity)`` for every pair of texts found at or above ``threshold``.

    Candidates are the pairs that share an LSH band key; with ``verify`` the
    similarity is the exact shingle Jaccard, otherwise the MinHash estimate.
    Pairs come sorted, with ``i < j``. Exact duplicates are included (1.0).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    hasher = hasher or MinHasher()
    shingles = [word_shingles(text, hasher.shingle_size) for text in texts]
    signatures = [hasher.signature_of_shingles(s) for s in shingles]
    keys = [hasher.band_keys(sig) for sig in signatures]
    found = []
    for i, j in sorted(_candidate_pairs(keys)):
        if verify:
            score = jaccard_of_shingles(shingles[i], shingles[j])
        else:
            score = hasher.similarity(signatures[i], signatures[j])
        if score >= threshold:
            found.append((i, j, score))
    return found


def group_pairs(n: int, pairs: Iterable[tuple[int, int, float]]) -> list[list[int]]:
    """Join pairs transitively (union-find) into groups of 2 or more indices below ``n``.

    Each group is sorted; groups are sorted by their first member.
    """
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees flat
            x = parent[x]
        return x

    for i, j, _score in pairs:
        if not (0 <= i < n and 0 <= j < n):
            raise ValueError(f"pair ({i}, {j}) is out of range for n={n}")
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    members: defaultdict[int, list[int]] = defaultdict(list)
    for x in range(n):
        members[root(x)].append(x)
    return sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])
