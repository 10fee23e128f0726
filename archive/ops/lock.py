"""The writer lock of SQLite archives, where it has always been imported from (see ``archive.store.lockfile``)."""

from __future__ import annotations

from archive.store.lockfile import LockHolder, lock_holder, lock_path, pid_alive, read_holder, writer_lock

__all__ = ["LockHolder", "lock_holder", "lock_path", "pid_alive", "read_holder", "writer_lock"]
