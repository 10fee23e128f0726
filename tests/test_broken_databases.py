"""Every CLI command against every kind of broken database file: one message with its fix, never a traceback."""

from __future__ import annotations

import os
import random
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archive import Archive
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from archive.store.sqlite.engine import create_archive_engine
from tests.conftest import SAMPLE

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Grid attack</title><guid>g1</guid><description>Drones hit the power grid near Odesa overnight,
officials said, leaving thousands without electricity.</description></item></channel></rss>"""

# name -> arguments; {out} and {feed} are filled per test
COMMANDS: dict[str, list[str]] = {
    "search": ["search", "power grid"],
    "show": ["show", "1"],
    "stats": ["stats"],
    "duplicates": ["duplicates"],
    "runs": ["runs"],
    "doctor": ["doctor"],
    "backup": ["backup", "{out}"],
    "vacuum": ["vacuum"],
    "delete": ["delete", "--article", "1", "--yes"],
    "ingest": ["ingest", str(SAMPLE)],
    "db upgrade": ["db", "upgrade"],
    "feeds list": ["feeds", "list"],
    "feeds add": ["feeds", "add", "{feed}"],
    "feeds poll": ["feeds", "poll"],
    "feeds remove": ["feeds", "remove", "1"],
    "reembed": ["reembed", "--model", "fake:16"],
    "clean": ["clean"],
    "boilerplate": ["boilerplate"],
    "timeline": ["timeline", "power"],
    "outlets": ["outlets"],
}
READERS = (
    "search",
    "show",
    "stats",
    "duplicates",
    "runs",
    "doctor",
    "backup",
    "feeds list",
    "boilerplate",
    "timeline",
    "outlets",
)
CREATORS = ("ingest", "db upgrade", "feeds add")  # the commands that may create a missing archive
WRITERS = ("vacuum", "delete", "ingest", "feeds add", "feeds poll", "feeds remove", "reembed", "clean")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy archive (the sample, one feed), built once and copied for each test."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "archive.db"
    feed = folder / "wire.xml"
    feed.write_text(RSS, encoding="utf-8")
    with Archive.open(path, embedder=FakeEmbedder()) as archive:
        archive.ingest([SAMPLE])
        archive.add_feed(str(feed), outlet="Wire")
    return path


def _text_file(path: Path) -> None:
    path.write_text("these are my notes, not an archive\n" * 200, encoding="utf-8")


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _random_middle(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(random.Random(10).randbytes(64 * 1024))


def _read_only_file(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _read_only_folder(path: Path) -> None:
    path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


def _newer_schema(path: Path) -> None:
    engine = create_archive_engine(path, create=False)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dfeed9999'")
    engine.dispose()


def _missing(path: Path) -> None:
    path.unlink()
    Path(f"{path}.lock").unlink(missing_ok=True)


BREAKAGES = {
    "text file": _text_file,
    "truncated": _truncated,
    "random bytes in the middle": _random_middle,
    "read-only file": _read_only_file,
    "read-only folder": _read_only_folder,
    "newer alembic_version": _newer_schema,
    "missing file": _missing,
}


@pytest.fixture
def broken(request: pytest.FixtureRequest, template: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "archive.db"
    shutil.copy(template, path)
    BREAKAGES[request.param](path)
    yield path
    folder.chmod(0o755)
    if path.exists():
        path.chmod(0o644)


def _run(command: str, db: Path, tmp_path: Path) -> Result:
    feed = tmp_path / "wire.xml"
    feed.write_text(RSS, encoding="utf-8")
    args = [a.format(out=tmp_path / "backup.db", feed=feed) for a in COMMANDS[command]]
    env = {"ARCHIVE_DB": str(db), "ARCHIVE_MODEL": ""}
    return CliRunner().invoke(cli, args, env=env)


def _assert_clean(result: Result) -> None:
    """No traceback: nothing escaped the command but click's own exit."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "internal error" not in result.output


def _expected(breakage: str, command: str) -> tuple[int | tuple[int, ...], str]:
    """(exit code, text the output must hold) for a command on a broken file."""
    if breakage == "missing file":
        return (0, "") if command in CREATORS else (2, "(create it with: archive ingest -d ")
    if breakage == "text file":
        return 1, "not an archive"
    if breakage == "truncated":
        return 1, "damaged" if command != "doctor" else "restore the file from a copy made by `archive backup`"
    if breakage == "random bytes in the middle":
        # Only the commands that read a damaged page notice; doctor's integrity check always does.
        return (1, "archive backup") if command == "doctor" else ((0, 1), "")
    if breakage == "newer alembic_version":
        return 1, "upgrade the package"
    # read-only file or folder: reading works, writing says why not and what to do
    return (1, "is read-only") if command in WRITERS else (0, "")


@pytest.mark.parametrize("broken", list(BREAKAGES), indirect=True)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_on_a_broken_database_exits_with_one_message_and_its_fix(
    broken: Path, command: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    breakage = request.node.callspec.params["broken"]
    before = broken.read_bytes() if broken.exists() else None
    result = _run(command, broken, tmp_path)
    _assert_clean(result)
    code, text = _expected(breakage, command)
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, result.output
    assert text in result.output
    if result.exit_code == 1 and breakage == "random bytes in the middle" and command != "doctor":
        assert "damaged" in result.output and "archive doctor" in result.output
    if breakage == "missing file" and command not in CREATORS:
        assert not broken.exists()  # a reading command never creates the file
    if breakage in ("text file", "newer alembic_version"):
        assert broken.read_bytes() == before  # nothing was written into someone else's file


def test_a_damaged_file_is_not_blamed_on_sqlite_vec(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    shutil.copy(template, path)
    _truncated(path)
    result = CliRunner().invoke(cli, ["doctor", "-d", str(path)])
    assert result.exit_code == 1
    assert "ok  sqlite-vec" in result.output and "damaged or truncated" in result.output
    assert "reinstall" not in result.output


@pytest.mark.parametrize("breakage", ["read-only file", "read-only folder"])
def test_a_read_only_archive_is_searched_without_leaving_files_behind(
    breakage: str, template: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "archive.db"
    shutil.copy(template, path)
    BREAKAGES[breakage](path)
    try:
        with Archive.open(path, create=False) as archive:
            assert archive.read_only
            assert archive.search("power grid Odesa", k=2)
        if breakage == "read-only folder":
            assert sorted(p.name for p in folder.iterdir()) == ["archive.db"]  # no -wal, -shm, .lock
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
