"""Human-readable rendering for the CLI (JSON output is the dataclasses' to_dict)."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import click

from archive.results import ArticleView, DuplicateGroup, SearchResult

# C0 controls but tab and newline, DEL, C1 controls (CSI, OSC), bidi overrides and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(value: object) -> str:
    """``value`` as text that cannot drive the terminal: escape sequences (colours, OSC-8 links,
    cursor moves, title changes) and bidi overrides from stored fields are shown as ``\\x1b`` etc."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _source_line(outlet: str | None, title: str, url: str | None, published: str | None) -> str:
    parts = [outlet or "unknown outlet", (published or "undated")[:10], title or "(untitled)"]
    return safe(" | ".join(parts)) + (f"\n      {safe(url)}" if url else "")


def print_results(results: Sequence[SearchResult]) -> None:
    if not results:
        click.echo("no results")
        return
    for r in results:
        click.secho(
            f"[{r.rank}] score {r.score:.4f}  article {r.article_id}  chars {r.char_start}-{r.char_end}", bold=True
        )
        for paragraph in safe(r.text).split("\n\n"):
            click.echo(textwrap.fill(paragraph, width=100, initial_indent="    ", subsequent_indent="    "))
        label = "source" if r.source_count == 1 else f"{r.source_count} sources"
        click.secho(f"    {label}:", fg="cyan")
        for s in r.sources:
            click.echo("    - " + _source_line(s.outlet, s.title, s.url, s.published))
        click.echo()


def print_article(view: ArticleView, span: tuple[int, int] | None) -> None:
    click.secho(safe(view.title or "(untitled)"), bold=True)
    click.echo(_source_line(view.outlet, "", view.url, view.published).replace(" | (untitled)", ""))
    if view.duplicate_kind:
        click.echo(f"{view.duplicate_kind} duplicate of article {view.canonical_id}")
    click.echo()
    text = safe(view.text)
    if span is not None:
        start, end = span
        marked = click.style(">>> " + safe(view.text[start:end]) + " <<<", fg="yellow")
        text = safe(view.text[:start]) + marked + safe(view.text[end:])
    for paragraph in text.split("\n\n"):
        click.echo(textwrap.fill(paragraph, width=100) if span is None else paragraph)
        click.echo()
    if len(view.copies) > 1:
        click.secho(f"{len(view.copies)} copies:", fg="cyan")
        for s in view.copies:
            kind = f" [{s.duplicate_kind}]" if s.duplicate_kind else ""
            click.echo(f"  - #{s.article_id}{kind} " + _source_line(s.outlet, s.title, s.url, s.published))


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A counter on stderr when it is a terminal; nothing otherwise (cron, pipes)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=None, label=label, file=sys.stderr, show_pos=True) as bar:  # type: ignore[arg-type]
        yield bar.update


def print_duplicate_groups(groups: Sequence[DuplicateGroup]) -> None:
    if not groups:
        click.echo("no duplicates")
        return
    for group in groups:
        c = group.canonical
        click.secho(
            f"#{c.article_id} ({group.size} copies) " + _source_line(c.outlet, c.title, c.url, c.published), bold=True
        )
        for s in group.copies:
            score = f" {s.similarity:.2f}" if s.similarity is not None else ""
            click.echo(
                f"  - #{s.article_id} [{s.duplicate_kind}{score}] "
                + _source_line(s.outlet, s.title, s.url, s.published)
            )
        click.echo()
