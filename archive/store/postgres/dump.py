"""`archive backup` of a PostgreSQL archive: pg_dump's custom format, restored with pg_restore.

pg_dump reads one consistent snapshot, so writers may go on meanwhile. The password travels in
``PGPASSWORD``, never on the command line (where ``ps`` shows it). The caller writes to a
staging name and renames it into place (``archive.ops.maintenance.backup``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from archive.config import ENV_PG_DUMP, redact_url
from archive.errors import OperationError

_FIX = f"install the PostgreSQL client tools (a pg_dump as new as the server) or set {ENV_PG_DUMP} to one"


def find_pg_dump(program: str | None) -> str:
    """The pg_dump to run: ``program`` (a path or a name on PATH), else ``pg_dump`` on PATH."""
    found = shutil.which(program or "pg_dump")
    if found is None:
        what = f"{ENV_PG_DUMP}={program} is not an executable program" if program else "pg_dump is not on PATH"
        raise OperationError(f"cannot back up a PostgreSQL archive: {what}: {_FIX}")
    return found


def libpq_url(url: str) -> tuple[str, str | None]:
    """The URL as libpq reads it (no SQLAlchemy driver name, no password anywhere in it) and the password.

    The password may be in the authority (``user:secret@host``) or the query (``?password=secret``).
    """
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    query = {key: value for key, value in parsed.query.items() if key != "password"}
    password = parsed.password if parsed.password is not None else parsed.query.get("password")
    if isinstance(password, tuple):
        password = password[-1]
    bare = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    return bare.render_as_string(hide_password=False), (str(password) if password is not None else None)


def dump(url: str, target: Path, program: str | None) -> None:
    """Write the database at ``url`` to ``target`` (custom format, no owners); OperationError when it fails."""
    executable = find_pg_dump(program)
    address, password = libpq_url(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    # --no-password: never prompt on a terminal (a cron job would hang); a missing password fails.
    command = [executable, "--format=custom", "--no-owner", "--no-password", f"--file={target}", f"--dbname={address}"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise OperationError(f"cannot run {executable}: {exc.strerror or exc}: {_FIX}") from exc
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        hint = f" ({_FIX})" if "version mismatch" in done.stderr else ""
        raise OperationError(f"pg_dump could not back up {redact_url(url)}: {reason}{hint}")
