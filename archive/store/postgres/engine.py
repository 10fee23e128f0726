"""PostgreSQL engines (psycopg 3) and the errors a server gives, as the archive's typed errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from archive.config import redact_url
from archive.errors import ArchiveError, ConfigError, NotAnArchiveError, OperationError

INSTALL_HINT = "pip install 'conflict-archive[postgres]'"


def require_driver() -> None:
    """Raise ConfigError naming the extra to install when psycopg or pgvector is missing."""
    missing = [name for name in ("psycopg", "pgvector") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"a postgresql:// archive needs {' and '.join(missing)}, which are not installed: {INSTALL_HINT}"
        )


def create_pg_engine(url: str) -> Engine:
    """An engine for the PostgreSQL database at ``url`` (any postgres:// spelling), through psycopg 3."""
    require_driver()
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=True)
    event.listen(engine, "connect", _register_vector)
    return engine


def _register_vector(dbapi_conn: Any, _record: Any) -> None:
    """Send and read vectors as numpy arrays in pgvector's binary format (once the extension exists)."""
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(dbapi_conn, "vector")
    if info is not None:
        register_vector_info(dbapi_conn, info)
    dbapi_conn.rollback()  # the lookup opened a transaction: leave the connection idle


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """A server that cannot be reached, a missing database or a refused login: one message with the fix."""
    where = redact_url(url)
    try:
        yield
    except ArchiveError:
        raise
    except (OperationalError, DBAPIError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if "does not exist" in text and "database" in text:
            raise NotAnArchiveError(
                f"{where}: {first} (create it with: createdb, then archive ingest -d URL FILES)", path=where
            ) from exc
        if isinstance(exc, OperationalError) and ("connect" in text or "password" in text):
            raise OperationError(f"cannot reach the PostgreSQL archive at {where}: {first}") from exc
        raise
