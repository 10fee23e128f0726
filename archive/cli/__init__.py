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
    "search": ("search", "Search articles: one result per article, copies collapsed, every source listed."),
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
    "backup": ("ops", "Copy the archive to PATH while it stays in use (SQLite online backup; pg_dump on PostgreSQL)."),
    "copy": ("ops", "Copy an archive into a new one on another backend (SQLite <-> PostgreSQL), vectors included."),
    "clean": ("clean", "Remove learned boilerplate and newsroom furniture from stored articles."),
    "boilerplate": (
        "clean",
        "List the sentences learned as outlet furniture, per outlet, with how many stories held them.",
    ),
    "timeline": (
        "timeline",
        "Matching articles per day, week or month and per outlet, with the earliest report marked.",
    ),
    "outlets": ("timeline", "Every outlet with its number of articles and first/last publication date."),
    "serve": ("serve", "Serve the archive read-only: search page with facets and timelines, JSON API, OpenAPI docs."),
    "mcp": ("serve", "MCP server for LLM agents: tools search, context, get_article and timeline (read-only)."),
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

    def invoke(self, ctx: click.Context) -> Any:
        # The last resort: whatever a command lets escape is one line and exit 1, never a traceback.
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            from archive.cli.common import to_click_error

            raise to_click_error(exc) from None


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a value given before the command name: each command's own option falls back to it."""
    if value is not None and param.name is not None:
        ctx.meta[f"archive.{param.name}"] = value


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, package_name="conflict-archive")
@click.option(
    "-d",
    "--db",
    type=click.Path(dir_okay=False),
    expose_value=False,
    callback=_remember,
    help="Archive database file, for any command [env ARCHIVE_DB].",
)
@click.option(
    "--model", expose_value=False, callback=_remember, help="Embedding model, for any command [env ARCHIVE_MODEL]."
)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    expose_value=False,
    callback=_remember,
    help="Model cache and default db folder, for any command [env ARCHIVE_HOME].",
)
def cli() -> None:
    """A searchable conflict-news archive: clean, chunk, embed and search news in SQLite.

    -d/--db, --model and --home work before or after the command name.

    \b
    Examples:
      archive ingest articles.jsonl reports/ --outlet Reuters
      archive search "shelling of Kharkiv" -k 5 --since 2022-03
      archive --db news.db stats
      archive show 42
    """


def _register() -> None:
    # Imported for their side effect of adding commands to ``cli``.
    from archive.cli import clean, db, duplicates, feeds, ingest, ops, runs, search, serve, timeline  # noqa: F401


def main() -> None:
    cli(prog_name="archive")


__all__ = ["cli", "main"]
