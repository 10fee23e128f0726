"""Command line: parse -> call the library -> render. No SQL, no business logic here.

Each module registers its commands on the ``cli`` group; this file only builds the group.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conflict-archive")
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
    from archive.cli import db, duplicates, ingest, search  # noqa: F401


_register()


def main() -> None:
    cli(prog_name="archive")


__all__ = ["cli", "main"]
