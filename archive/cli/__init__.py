"""Command line: parse -> call the library -> render. No SQL, no business logic here.

Each module registers its commands on the ``cli`` group; this file only builds the group.
Command modules are imported lazily: running ``archive search`` imports only
``archive.cli.search``, ``archive --help`` lists the commands from a table and imports
none, and ``cli.commands`` loads them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from archive import __version__

# Where each command lives and its one-line help, so that running one imports one module and
# `archive --help` imports none (start-up under 0.3 s). tests/test_cli_startup.py checks this table
# against the commands' own docstrings. A command missing here still works: an unknown name loads
# every module of _register().
_COMMANDS: dict[str, tuple[str, str]] = {
    "search": ("search", "Search passages: one result per duplicate group, with every source."),
    "show": ("search", "Print an article, its sources, and a passage in context."),
    "ingest": ("ingest", "Ingest .txt/.md, .jsonl/.json, .csv (and .gz) files or whole directories."),
    "db": ("db", "Database schema commands."),
    "stats": ("db", "Counts of articles, chunks, outlets and duplicates; date span; size; model."),
    "duplicates": ("duplicates", "Show duplicate groups: a canonical article and its exact and near copies."),
    "feeds": ("feeds", "Follow RSS/Atom feeds and ingest their new entries (safe to run from cron)."),
    "runs": ("runs", "List recent ingest runs (newest first), or show one run with its errors."),
    "doctor": ("ops", "Check the archive: driver, sqlite-vec, schema, model file, index counts, links."),
    "delete": ("ops", "Delete articles with their passages, vectors and exact copies."),
    "reembed": ("ops", "Embed every passage with another model and switch the archive to it."),
    "vacuum": ("ops", "Compact the database file and the keyword index; empty the WAL."),
    "backup": ("ops", "Copy the archive to PATH while it stays in use (SQLite online backup)."),
}


class _LazyGroup(click.Group):
    """A group whose command modules are imported on first use (cold start of `archive search`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loaded: dict[str, click.Command] = {}
        self._all_registered = False
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every command (importing all command modules on first access)."""
        if not self._all_registered:
            self._all_registered = True
            _register()
        return self._loaded

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._loaded = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._loaded[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._loaded and cmd_name in _COMMANDS:
            importlib.import_module(f"archive.cli.{_COMMANDS[cmd_name][0]}")
        return self._loaded.get(cmd_name) or self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `archive --help`, from the table above: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in _COMMANDS:  # a stand-in command shortens the line exactly as click would
                rows.append((name, click.Command(name, help=_COMMANDS[name][1]).get_short_help_str(limit)))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *self._loaded})


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, package_name="conflict-archive")
def cli() -> None:
    """A searchable conflict-news archive: clean, chunk, embed and search news in SQLite.

    \b
    Examples:
      archive ingest articles.jsonl reports/ --outlet Reuters
      archive search "shelling of Kharkiv" -k 5 --since 2022-03
      archive show 42
    """


def _register() -> None:
    # Imported for their side effect of adding commands to ``cli``.
    from archive.cli import db, duplicates, feeds, ingest, ops, runs, search  # noqa: F401


def main() -> None:
    cli(prog_name="archive")


__all__ = ["cli", "main"]
