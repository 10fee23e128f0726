"""Reading local files safely: regular files only, never more than a cap, gzip streamed.

A FIFO would block ``open`` forever, ``/dev/zero`` never ends, and a 3 MB gzip
can expand to gigabytes: every local read of an input goes through here so
that none of them can hang the process or exhaust its memory.
"""

from __future__ import annotations

import errno
import os
import stat
import zlib
from pathlib import Path

from archive.errors import IngestError

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
_READ_SIZE = 1024 * 1024
_GZIP_WINDOW = 16 + zlib.MAX_WBITS  # zlib's "gzip header" mode; concatenated members handled below


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _open_regular(path: Path) -> int:
    """A descriptor on ``path`` if it is a regular file; O_NONBLOCK so a FIFO cannot block the open."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise IngestError("no such file or directory", path=where) from exc
    except IsADirectoryError as exc:
        raise IngestError("is a directory: pass it as an input path to read the files inside", path=where) from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO or socket with nobody on the other end
            raise IngestError("is a FIFO or socket, not a regular file: skipped", path=where) from exc
        raise IngestError(f"cannot read file: {exc.strerror or exc}", path=where) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise IngestError(f"is {_kind(mode)}, not a regular file: skipped (only regular files are read)", path=where)
    return fd


def read_regular_file(path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; raises IngestError otherwise."""
    fd = _open_regular(path)
    try:
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(_READ_SIZE, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise IngestError(f"cannot read file: {exc.strerror or exc}", path=str(path)) from exc
    finally:
        os.close(fd)
    if size > max_bytes:
        raise IngestError(
            f"file is larger than {max_bytes:,} bytes: split it, or raise ARCHIVE_MAX_INPUT_MB", path=str(path)
        )
    return b"".join(chunks)


def gunzip_capped(data: bytes, *, max_bytes: int, where: str) -> bytes:
    """Decompress gzip ``data`` (every member) without ever holding more than ``max_bytes`` of output."""
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(_GZIP_WINDOW)
            pending = rest
            while pending and not inflater.eof:
                chunk = inflater.decompress(pending, max_bytes + 1 - size)
                size += len(chunk)
                out.append(chunk)
                if size > max_bytes:
                    raise IngestError(
                        f"decompresses to more than {max_bytes:,} bytes: refused (raise ARCHIVE_MAX_INPUT_MB "
                        "if it is genuine)",
                        path=where,
                    )
                pending = inflater.unconsumed_tail
                if not chunk and not pending:
                    break
            if not inflater.eof:
                raise IngestError("not a valid gzip file (truncated)", path=where)
            rest = inflater.unused_data.lstrip(b"\x00")  # padding between members is allowed
    except zlib.error as exc:
        raise IngestError(f"not a valid gzip file ({exc})", path=where) from exc
    return b"".join(out)
