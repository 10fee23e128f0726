"""Run alembic from the library: ``archive db upgrade`` and the schema-at-head check."""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import ArchiveError, SchemaOutOfDateError, SchemaTooNewError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

# alembic is imported only to migrate, or when the quick reads below are unsure:
# opening an up-to-date archive (every `archive search`) never pays for it.
_PACKAGE = Path(__file__).resolve().parents[1]
# The repository root when running from a checkout (editable install, PYTHONPATH); in site-packages
# this is site-packages itself, which holds no alembic.ini of ours.
PROJECT_ROOT = _PACKAGE.parent
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:['\"](\w+)['\"]|None)", re.MULTILINE)


@lru_cache(maxsize=1)
def migrations_dir() -> Path:
    """The alembic script directory of this code: the wheel's ``archive/_migrations`` or a checkout's ``migrations/``.

    The installed copy wins when both exist: it is the one that shipped with this ``archive/``.
    A checkout never has ``archive/_migrations`` (setup.py maps it only into built wheels).
    """
    for candidate in (_PACKAGE / "_migrations", PROJECT_ROOT / "migrations"):
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    raise ArchiveError(
        f"the schema migrations are missing (looked in {_PACKAGE / '_migrations'} and {PROJECT_ROOT / 'migrations'}): "
        "reinstall conflict-archive"
    )


def alembic_config(dimension: int | None = None) -> Config:
    """An alembic Config pointing at our migrations, usable from any working directory."""
    from alembic.config import Config

    # No alembic.ini: it only names the script location (set here) and logging, which env.py leaves alone.
    cfg = Config(stdout=io.StringIO())  # alembic's messages stay out of the library's callers' output
    cfg.set_main_option("script_location", str(migrations_dir()))
    if dimension is not None:
        cfg.attributes["embedding_dimension"] = dimension
    return cfg


def head_revision() -> str | None:
    """The newest revision in migrations/versions."""
    return quick_head() or _alembic_head()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@lru_cache(maxsize=1)
def quick_head() -> str | None:
    """The head revision read from the scripts' text, with no alembic import: the single revision no
    other names as down_revision; None if unsure."""
    graph = _quick_graph()
    if graph is None:
        return None
    revisions, parents = graph
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


@lru_cache(maxsize=1)
def _quick_graph() -> tuple[frozenset[str], frozenset[str]] | None:
    """(revisions, revisions named as a down_revision) read from the scripts' text; None if unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations_dir() / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _REVISION_LINE.finditer(script.read_text(encoding="utf-8")))
        if "revision" not in found or "down_revision" not in found or found["revision"] is None:
            return None  # a layout this reader does not know (merges, tuples): ask alembic
        revisions.add(found["revision"])
        if found["down_revision"] is not None:
            parents.add(found["down_revision"])
    return frozenset(revisions), frozenset(parents)


def known_revisions() -> frozenset[str]:
    """Every revision this version's migrations define."""
    graph = _quick_graph()
    if graph is not None:
        return graph[0]
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def check_not_newer(current: str | None, path: object = None) -> None:
    """Raise SchemaTooNewError when ``current`` is a revision this code does not know (a newer package wrote it)."""
    if current is None or current in known_revisions():
        return
    where = f"{path} " if path is not None else "this archive "
    raise SchemaTooNewError(
        f"{where}has schema revision {current}, newer than this version of conflict-archive knows "
        f"(its newest is {head_revision()}): upgrade the package (pip install -U conflict-archive) "
        "to open it; nothing was changed",
        path=None if path is None else str(path),
    )


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for a new file)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            table = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            )
            if table.first() is None:
                return None
        else:
            from sqlalchemy import inspect

            if not inspect(conn).has_table("alembic_version"):
                return None
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        if len(rows) == 1:
            return str(rows[0][0])
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, dimension: int | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision``; ``dimension`` sizes the vector table of a new db."""
    from alembic import command

    check_not_newer(current_revision(engine), engine_path(engine))
    cfg = alembic_config(dimension)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutOfDateError unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    check_not_newer(current, engine_path(engine))
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at revision {current or 'none'}, this version needs {head}: "
            "run `archive db upgrade` (or `alembic -x db=PATH upgrade head`)"
        )


def schema_drift(engine: Engine) -> list[str]:
    """Differences between the database's tables and the ORM models, as alembic's check sees them.

    An empty list means no drift. Raises SchemaOutOfDateError first when the database is not at
    head: alembic compares only up-to-date databases.
    """
    from alembic import command
    from alembic.util.exc import AutogenerateDiffsDetected

    ensure_current(engine)
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        try:
            command.check(cfg)
        except AutogenerateDiffsDetected as exc:
            # .diffs arrived in alembic 1.14; older ones only put them in the message
            return [str(diff) for diff in getattr(exc, "diffs", None) or [exc]]
    return []


def engine_path(engine: Engine) -> str:
    """Where ``engine`` points, for messages: the SQLite file, or the server URL without its password."""
    if engine.dialect.name == "sqlite":
        from archive.store.sqlite.engine import engine_path as sqlite_path

        return sqlite_path(engine)
    return engine.url.render_as_string(hide_password=True)
