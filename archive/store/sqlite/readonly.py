"""Read-only connections for the web and MCP servers: writes stay in the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def make_read_only(engine: Engine) -> None:
    """Every connection of ``engine`` from now on refuses writes (``PRAGMA query_only``).

    Pooled connections opened before are dropped, so none can write. Readers of a WAL
    database see a consistent snapshot while another process ingests.
    """

    @event.listens_for(engine, "connect")
    def _query_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    engine.dispose()
