"""Command line: parse -> call the library -> render. No SQL, no business logic here.

Each module registers its commands on the ``cli`` group; this file only builds the group.
Command modules are imported lazily: running ``archive search`` imports only
``archive.cli.search``, while ``--help`` (and ``cli.commands``) load them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# Where the commands live, so that running one imports one module. A command
# missing here still works: an unknown name loads every module of _register().
_COMMAND_MODULES = {
    "search": "search",
    "show": "search",
    "ingest": "ingest",
    "db": "db",
    "stats": "db",
    "duplicates": "duplicates",
    "feeds": "feeds",
    "runs": "runs",
    "doctor": "ops",
    "delete": "ops",
    "reembed": "ops",
    "vacuum": "ops",
    "backup": "ops",
    "clean": "clean",
    "boilerplate": "clean",
    "timeline": "timeline",
    "outlets": "timeline",
    "serve": "serve",
    "mcp": "serve",
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
        if cmd_name not in self._loaded and cmd_name in _COMMAND_MODULES:
            importlib.import_module(f"archive.cli.{_COMMAND_MODULES[cmd_name]}")
        return self._loaded.get(cmd_name) or self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

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
@click.version_option(package_name="conflict-archive")
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
