"""Settings, resolved once: explicit value (CLI option, library argument) > environment variable > default.

Every environment variable the archive reads is parsed here and nowhere else; modules
receive the values. A bad value raises ConfigError naming the variable and its valid range.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from archive.errors import ConfigError

ENV_DB = "ARCHIVE_DB"
ENV_MODEL = "ARCHIVE_MODEL"
ENV_HOME = "ARCHIVE_HOME"
# Archives above this many passages search the sign-bit prefilter first ("off": always exact).
ENV_PREFILTER = "ARCHIVE_PREFILTER_MIN_ROWS"
# Threads that embed passages, each running torch on one thread (unset: one per core, at most 8).
ENV_EMBED_WORKERS = "ARCHIVE_EMBED_WORKERS"
# torch's intra-op threads when the model loads (unset: torch's default; then one embedding worker).
ENV_TORCH_THREADS = "ARCHIVE_TORCH_THREADS"
# "torch" embeds queries with torch even where the NumPy encoder could.
ENV_QUERY_ENCODER = "ARCHIVE_QUERY_ENCODER"
# "cpu", "cuda", "cuda:1", "mps" or "auto" (a GPU when torch sees one).
ENV_DEVICE = "ARCHIVE_DEVICE"
# "float32", "bfloat16" (autocast) or "auto": bfloat16 where the CPU multiplies it natively (AMX, AVX512-BF16).
ENV_PRECISION = "ARCHIVE_PRECISION"
# A file of extra spelling variants for keyword search (archive/search/variants.txt's format).
ENV_VARIANTS = "ARCHIVE_VARIANTS"
# The pg_dump that `archive backup` runs for a PostgreSQL archive (unset: pg_dump on PATH).
ENV_PG_DUMP = "ARCHIVE_PG_DUMP"

# Passages embedded and committed per ingest transaction (IngestOptions, `archive ingest --batch-chunks`).
DEFAULT_BATCH_CHUNKS = 512
# "1" lets feeds and pages be fetched from loopback, private and link-local addresses (refused by default).
ENV_ALLOW_PRIVATE = "ARCHIVE_ALLOW_PRIVATE"
# Largest input file read by ingest, in MiB, after decompression (bounds the memory of one file).
ENV_MAX_INPUT_MB = "ARCHIVE_MAX_INPUT_MB"

# Up to this many passages (or articles, for the article vectors) KNN scans every float vector; above it
# the sign-bit prefilter picks the vectors to score exactly (store.sqlite.knn): out of the matrix held in
# memory up to store.sqlite.knn.MATRIX_MAX_ROWS passages, where it costs a third of the exact scan.
DEFAULT_PREFILTER_MIN_ROWS = 50_000
DEFAULT_MAX_INPUT_MB = 64
QueryEncoderChoice = Literal["auto", "torch"]
Precision = Literal["float32", "bfloat16"]  # what passages are embedded in
PrecisionChoice = Literal["auto", "float32", "bfloat16"]


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """Where models are cached and the default database lives."""
    env = os.environ if env is None else env
    value = env.get(ENV_HOME)
    if value:
        return Path(value).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "conflict-archive"


@dataclass(frozen=True)
class EmbeddingSettings:
    """How passages and queries are embedded (the knobs of ``archive.embedding``)."""

    device: str = "cpu"
    workers: int | None = None  # None: one per usable core (1 on a GPU or with torch_threads set)
    torch_threads: int | None = None  # None: torch's default
    query_encoder: QueryEncoderChoice = "auto"
    precision: PrecisionChoice = "auto"  # of passage embedding (archive.embedding.precision)


@dataclass(frozen=True)
class Settings:
    """Every knob the archive reads from its environment, frozen after start-up."""

    db_path: Path  # the SQLite file (for a server URL: a name for messages, never a file)
    home: Path
    model: str | None  # None means: the model recorded in the db, else the default
    prefilter_min_rows: int | None = DEFAULT_PREFILTER_MIN_ROWS  # None: every search exact
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    variants_file: str | None = None  # extra spelling variants, added to the shipped table
    allow_private_networks: bool = False
    max_input_bytes: int = DEFAULT_MAX_INPUT_MB * 1024 * 1024
    db_url: str | None = None  # a postgresql:// URL: the archive lives on a server, not in db_path
    pg_dump: str | None = None  # the pg_dump program for backups of a server archive (None: the one on PATH)

    @property
    def db_location(self) -> str:
        """Where the archive is, as it should be opened: the server URL, else the file path."""
        return self.db_url or str(self.db_path)

    @property
    def db_exists(self) -> bool:
        """Whether there is something to read at the location (a server is asked when opened)."""
        return self.db_url is not None or self.db_path.is_file()

    @classmethod
    def resolve(
        cls,
        db: str | Path | None = None,
        model: str | None = None,
        home: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from explicit values, falling back to environment variables and defaults."""
        env = os.environ if env is None else env
        home_path = Path(home).expanduser() if home else default_home(env)
        db_value = db or env.get(ENV_DB)
        db_url = str(db_value) if db_value and is_server_url(str(db_value)) else None
        if db_url is not None:
            db_path = Path(redact_url(db_url))
        else:
            db_path = Path(db_value).expanduser() if db_value else home_path / "archive.db"
        return cls(
            db_path=db_path,
            db_url=db_url,
            home=home_path,
            model=model or env.get(ENV_MODEL) or None,
            prefilter_min_rows=parse_prefilter(env.get(ENV_PREFILTER, "")),
            variants_file=env.get(ENV_VARIANTS, "").strip() or None,
            embedding=EmbeddingSettings(
                device=parse_device(env.get(ENV_DEVICE, "")),
                workers=parse_count(
                    ENV_EMBED_WORKERS, env.get(ENV_EMBED_WORKERS, ""), "unset it to use one per CPU core"
                ),
                torch_threads=parse_count(
                    ENV_TORCH_THREADS, env.get(ENV_TORCH_THREADS, ""), "unset it for torch's default"
                ),
                query_encoder=parse_query_encoder(env.get(ENV_QUERY_ENCODER, "")),
                precision=parse_precision(env.get(ENV_PRECISION, "")),
            ),
            allow_private_networks=parse_flag(ENV_ALLOW_PRIVATE, env.get(ENV_ALLOW_PRIVATE, "")),
            max_input_bytes=parse_megabytes(ENV_MAX_INPUT_MB, env.get(ENV_MAX_INPUT_MB, ""), DEFAULT_MAX_INPUT_MB),
            pg_dump=env.get(ENV_PG_DUMP, "").strip() or None,
        )

    def with_db(self, db: str | Path) -> Settings:
        """The same settings for another database file or server URL."""
        if is_server_url(str(db)):
            return replace(self, db_path=Path(redact_url(str(db))), db_url=str(db))
        return replace(self, db_path=Path(db).expanduser(), db_url=None)


SERVER_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_server_url(value: str) -> bool:
    """Whether ``value`` names a database server (PostgreSQL) rather than a SQLite file."""
    return value.strip().lower().startswith(SERVER_SCHEMES)


_URL_PASSWORD = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]+):[^@\s]*@", re.IGNORECASE)


def redact_passwords(text: str) -> str:
    """``text`` (a command line) with the password of every server URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without its password, for messages."""
    url = _QUERY_PASSWORD.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def parse_prefilter(raw: str) -> int | None:
    """ARCHIVE_PREFILTER_MIN_ROWS: a number of passages, or off/never/none/exact (None)."""
    value = raw.strip().lower()
    if not value:
        return DEFAULT_PREFILTER_MIN_ROWS
    if value in ("off", "never", "none", "exact"):
        return None
    if value.isdigit():
        return int(value)
    raise ConfigError(f"{ENV_PREFILTER} must be a number of passages or 'off' (got {raw!r})")


def parse_count(name: str, raw: str, hint: str) -> int | None:
    """A whole number >= 1, or None when unset."""
    value = raw.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of threads, at least 1 (got {raw!r}); {hint}")
    return int(value)


def parse_flag(name: str, raw: str) -> bool:
    """1/true/yes/on or 0/false/no/off (unset: off)."""
    value = raw.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0 (got {raw!r})")


def parse_megabytes(name: str, raw: str, default: int) -> int:
    """A whole number of MiB from 1 to 65536, returned in bytes."""
    value = raw.strip()
    if not value:
        return default * 1024 * 1024
    if not value.isdigit() or not 1 <= int(value) <= 65536:
        raise ConfigError(f"{name} must be a whole number of MiB from 1 to 65536 (got {raw!r}); unset it for {default}")
    return int(value) * 1024 * 1024


def parse_query_encoder(raw: str) -> QueryEncoderChoice:
    value = raw.strip().lower()
    if value in ("", "auto", "numpy"):
        return "auto"
    if value == "torch":
        return "torch"
    raise ConfigError(f"{ENV_QUERY_ENCODER} must be 'auto' (NumPy where possible) or 'torch' (got {raw!r})")


_PRECISION_NAMES: dict[str, PrecisionChoice] = {
    "": "auto",
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def parse_precision(raw: str) -> PrecisionChoice:
    """ARCHIVE_PRECISION: auto (unset), float32 (fp32) or bfloat16 (bf16)."""
    value = _PRECISION_NAMES.get(raw.strip().lower())
    if value is None:
        raise ConfigError(f"{ENV_PRECISION} must be auto, float32 or bfloat16 (got {raw!r}); unset it for auto")
    return value


def parse_device(raw: str) -> str:
    value = raw.strip().lower()
    if not value:
        return "cpu"
    if value in ("auto", "cpu", "mps") or value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise ConfigError(f"{ENV_DEVICE} must be cpu, cuda, cuda:N, mps or auto (got {raw!r})")
