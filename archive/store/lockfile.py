"""The archive's single-writer lock: ``fcntl.flock`` on a sidecar file ``<db>.lock``.

SQLite already serialises write transactions, but an ingest is many
transactions; two ingests (or an ingest and a delete) interleaving their
batches would race on duplicate decisions. Every writer therefore holds this
lock for its whole run. The kernel drops a ``flock`` when its holder dies, so
a killed ingest (``kill -9``, OOM, reboot) never leaves a stale lock behind.

The lock file holds the holder's pid, start time and command, which is what
the "another ingest is writing" message and ``archive runs`` report.
The lock is re-entrant within one thread (``feeds poll`` holds it around the
ingests it runs); another thread of the same process is refused like another
process.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shlex
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from archive.errors import ConfigError, LockedError

POLL_INTERVAL_S = 0.1


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a writer lock, as written in the lock file."""

    pid: int | None
    started: str | None  # local time with UTC offset, ISO 8601 to the second
    command: str | None

    @property
    def kind(self) -> str:
        """The command's verb (``ingest``, ``feeds poll``, ``delete``...), for messages."""
        words = (self.command or "").split()
        if words and words[0] == "archive":
            words = words[1:]
        if not words:
            return "writer"
        return " ".join(words[:2]) if words[0] in ("feeds", "db") and len(words) > 1 else words[0]


@dataclass
class _Held:
    handle: IO[str]
    thread: int
    depth: int


_held: dict[str, _Held] = {}
_registry_guard = threading.Lock()


def lock_path(db_path: str | Path) -> Path:
    """The sidecar lock file of the archive at ``db_path``."""
    return Path(f"{Path(db_path).expanduser()}.lock")


def _key(db_path: str | Path) -> str:
    return str(lock_path(db_path).resolve())


def default_command() -> str:
    """This process's command line, as ``archive ...`` when it is the archive CLI."""
    argv = sys.argv or ["python"]
    program = Path(argv[0]).name
    if program in ("archive", "__main__.py"):
        return shlex.join(["archive", *argv[1:]])
    return shlex.join([program, *argv[1:]])


@contextmanager
def writer_lock(db_path: str | Path, *, wait: float = 0, command: str | None = None) -> Iterator[LockHolder]:
    """Hold the archive's writer lock for the ``with`` block.

    ``wait`` is how many seconds to keep trying while another process holds
    it (0: fail at once). Raises :class:`LockedError` naming the holder.
    ``command`` is recorded for other processes' messages (default: argv).
    """
    if not isinstance(wait, (int, float)) or not math.isfinite(wait) or wait < 0:
        raise ConfigError(f"--wait must be a finite number of seconds, 0 or more (got {wait!r})")
    if str(db_path) == ":memory:":  # nothing another process could share
        yield LockHolder(os.getpid(), None, command)
        return
    key = _key(db_path)
    with _registry_guard:
        held = _held.get(key)
        if held is not None and held.thread == threading.get_ident():
            held.depth += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield read_holder(db_path) or LockHolder(os.getpid(), None, command)
        finally:
            with _registry_guard:
                _held[key].depth -= 1
        return
    handle, holder = _acquire(db_path, wait, command or default_command())
    with _registry_guard:
        _held[key] = _Held(handle, threading.get_ident(), 1)
    try:
        yield holder
    finally:
        with _registry_guard:
            del _held[key]
        _release(handle)


def _acquire(db_path: str | Path, wait: float, command: str) -> tuple[IO[str], LockHolder]:
    path = lock_path(db_path)
    handle = _open_lock_file(path)
    deadline = time.monotonic() + wait
    try:
        while not _try_flock(handle):
            if time.monotonic() >= deadline:
                raise _locked_error(db_path, wait)
            time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
        holder = LockHolder(os.getpid(), datetime.now().astimezone().isoformat(sep=" ", timespec="seconds"), command)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": holder.pid, "started": holder.started, "command": holder.command}) + "\n")
        handle.flush()
        return handle, holder
    except BaseException:
        handle.close()
        raise


def _open_lock_file(path: Path) -> IO[str]:
    """Open (creating) the lock file without following a link, and only if it is a regular file.

    The holder truncates and rewrites the file: through a planted symbolic link that
    would truncate whatever the link points at.
    """
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"the writer lock {path} is a symbolic link: remove it (`rm {path}`); the archive recreates it"
            ) from None
        raise ConfigError(
            f"cannot open the writer lock {path}: {exc.strerror or exc}; writing needs write access to that folder"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"the writer lock {path} is not a regular file: remove it; the archive recreates it")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r+", encoding="utf-8")


def _try_flock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _release(handle: IO[str]) -> None:
    # Empty the file while still holding the lock: a lock file with content means "held".
    try:
        handle.seek(0)
        handle.truncate()
        handle.flush()
    except OSError:
        pass
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _locked_error(db_path: str | Path, wait: float) -> LockedError:
    holder = read_holder(db_path)
    if holder is None or holder.pid is None:
        who = "another process"
    else:
        who = f"another {holder.kind} (pid {holder.pid}, started {holder.started or 'at an unknown time'})"
    waited = f" (waited {wait:g} s)" if wait else ""
    message = f"{who} is writing to {Path(db_path).expanduser()}{waited}; try again later or pass --wait SECONDS"
    return LockedError(message, holder=holder)


def read_holder(db_path: str | Path) -> LockHolder | None:
    """What the lock file says about its holder; None when it is empty or absent."""
    handle = _open_existing(lock_path(db_path))
    if handle is None:
        return None
    try:
        with handle:
            text = handle.read(64 * 1024).strip()  # a holder line is short; never read a huge planted file
        data = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return LockHolder(pid if isinstance(pid, int) else None, data.get("started"), data.get("command"))


def lock_holder(db_path: str | Path) -> LockHolder | None:
    """The live holder of the writer lock, or None when nobody holds it.

    Probes with a non-blocking ``flock``; this process's own lock counts as held.
    """
    key = _key(db_path)
    with _registry_guard:
        if key in _held:
            return read_holder(db_path) or LockHolder(os.getpid(), None, None)
    handle = _open_existing(lock_path(db_path))
    if handle is None:
        return None
    try:
        if _try_flock(handle):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None
    finally:
        handle.close()
    return read_holder(db_path) or LockHolder(None, None, None)


def _open_existing(path: Path) -> IO[str] | None:
    """The lock file for reading, if it exists as a regular file (not a link, FIFO or device)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return os.fdopen(fd, encoding="utf-8", errors="replace")


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


__all__ = ["LockHolder", "default_command", "lock_holder", "lock_path", "pid_alive", "read_holder", "writer_lock"]
