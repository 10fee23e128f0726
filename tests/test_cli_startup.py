"""Start-up of the CLI: `archive --help`, `--version` and `archive CMD --help` load no library, and
`archive search` of a ready SQLite archive loads no SQLAlchemy.

Speed itself is measured in scripts/bench.py's ``cold`` section; these tests prove the cause of
a fast start: what is (not) imported, and that the static command table matches the commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import archive.cli as cli_module
from archive import Archive
from archive.cli import cli
from archive.embedding.fake import FakeEmbedder
from tests.helpers import city_reports, run_sql

REPO = Path(__file__).resolve().parents[1]
# Modules that cost most of a second to import; none belongs in a help or version run.
HEAVY = ("sqlalchemy", "numpy", "torch", "sentence_transformers", "alembic", "archive.api", "archive.store.models")
# Imported by some commands, not by a one-shot search sorted by score.
LATER = ("archive.search.coverage", "tokenizers")

_PROBE = """
import json, sys
from archive.cli import cli
for args in json.loads(sys.argv[1]):
    cli.main(args, prog_name="archive", standalone_mode=False)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("archive.cli.", *json.loads(sys.argv[2]))))))
"""


def _modules_after(*runs: list[str]) -> list[str]:
    """The command modules and heavy modules a fresh interpreter has imported after the given CLI runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(runs)), json.dumps(HEAVY + LATER)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY]


def test_group_help_imports_no_command_module() -> None:
    assert _modules_after(["--help"]) == []


def test_version_imports_no_command_module() -> None:
    assert _modules_after(["--version"]) == []


def test_every_command_help_leaves_the_library_unimported() -> None:
    runs = [[name, "--help"] for name in cli_module._COMMANDS]
    runs += [["db", "upgrade", "--help"], ["db", "check", "--help"], ["feeds", "poll", "--help"]]
    loaded = _modules_after(*runs)
    assert "archive.cli.search" in loaded  # the probe did run the commands' own help
    assert _heavy(loaded) == []


def test_static_command_table_matches_the_commands() -> None:
    ctx = click.Context(cli)
    registered = cli.commands  # imports every command module
    assert sorted(registered) == sorted(cli_module._COMMANDS)
    for name, (module, short_help) in cli_module._COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.callback is not None
        assert command.callback.__module__ == f"archive.cli.{module}"
        assert command.get_short_help_str(10**6) == short_help, f"update _COMMANDS[{name!r}] in archive/cli/__init__.py"


def test_group_help_lists_every_command_as_click_would(runner: CliRunner) -> None:
    listed = runner.invoke(cli, ["--help"], prog_name="archive")
    assert listed.exit_code == 0
    for name, (_, short_help) in cli_module._COMMANDS.items():
        assert f"  {name} " in listed.output
        assert f"{name} {short_help[:20]}" in " ".join(listed.output.split())


def test_version_is_the_package_version(runner: CliRunner) -> None:
    from archive import __version__

    shown = runner.invoke(cli, ["--version"], prog_name="archive")
    assert shown.exit_code == 0
    assert shown.output.strip() == f"archive, version {__version__}"


def test_search_of_a_ready_archive_imports_no_sqlalchemy(tmp_path: Path) -> None:
    db = tmp_path / "ready.db"
    with Archive.open(db, embedder=FakeEmbedder()) as archive:
        archive.ingest_records(city_reports(0, 20))
    loaded = _modules_after(["search", "-d", str(db), "shelling in Kharkiv", "-k", "3", "--json"])
    assert "archive.cli.search" in loaded and "numpy" in loaded  # the search did run
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "alembic")] == []
    assert "archive.api" not in loaded and "archive.store.models" not in loaded
    assert [m for m in loaded if m.split(".")[0] == "tokenizers" or m in LATER] == []


def test_search_sorted_by_date_imports_the_coverage_module(tmp_path: Path) -> None:
    db = tmp_path / "ready.db"
    with Archive.open(db, embedder=FakeEmbedder()) as archive:
        archive.ingest_records(city_reports(0, 20))
    loaded = _modules_after(["search", "-d", str(db), "shelling in Kharkiv", "-k", "3", "--sort", "date", "--json"])
    assert "archive.search.coverage" in loaded


def test_search_of_an_outdated_archive_still_reports_it(tmp_path: Path, runner: CliRunner) -> None:
    db = tmp_path / "old.db"
    with Archive.open(db, embedder=FakeEmbedder()) as archive:
        archive.ingest_records(city_reports(0, 5))
    run_sql(db, "UPDATE alembic_version SET version_num = '0004'")
    result = runner.invoke(cli, ["search", "-d", str(db), "shelling"])
    assert result.exit_code != 0
    assert "archive db upgrade" in result.output
