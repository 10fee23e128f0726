"""Human-readable rendering for the CLI (JSON output is the dataclasses' to_dict)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import click

from archive.results import ArticleView, DuplicateGroup, SearchResult


class _Report(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def echo_report(report: _Report, as_json: bool, line: str) -> None:
    """A command's report: as JSON with ``--json``, else its one summary ``line``."""
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else line)


NOT_A_TERMINAL_WIDTH = 80
MIN_WIDTH = 40
# Stand-ins for the highlight's colour codes while a paragraph is wrapped (textwrap counts
# every character, so real escape sequences would shorten the highlighted lines).
_MARK_ON, _MARK_OFF = "\x02", "\x03"
# C0 controls but tab and newline, DEL, C1 controls (CSI, OSC), bidi overrides and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(value: object) -> str:
    """``value`` as text that cannot drive the terminal: escape sequences (colours, OSC-8 links,
    cursor moves, title changes) and bidi overrides from stored fields are shown as ``\\x1b`` etc."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from archive.store.records import LearnedSentence


def text_width() -> int:
    """Columns for text output: the terminal's width, or 80 when stdout is not a terminal (pipes, cron)."""
    if not sys.stdout.isatty():
        return NOT_A_TERMINAL_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((NOT_A_TERMINAL_WIDTH, 24)).columns)


def wrap(text: str, indent: str = "", subsequent: str | None = None, width: int | None = None) -> str:
    """``text`` filled to the output width; URLs and other long words are never broken."""
    return textwrap.fill(
        text,
        width=width or text_width(),
        initial_indent=indent,
        subsequent_indent=indent if subsequent is None else subsequent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _source_line(outlet: str | None, title: str, url: str | None, published: str | None, indent: str = "") -> str:
    """`outlet | date | title`, then the URL on a line of its own, wrapped under ``indent``."""
    parts = [outlet or "unknown outlet", (published or "undated")[:10], title or "(untitled)"]
    under = " " * len(indent) if indent else "      "
    line = wrap(indent + safe(" | ".join(parts)), subsequent=under).removeprefix(indent)
    return line + (f"\n{under}{safe(url)}" if url else "")


def print_results(results: Sequence[SearchResult]) -> None:
    if not results:
        click.echo("no results")
        return
    for r in results:
        similarity = f"similarity {r.similarity:.2f}" if r.similarity is not None else f"score {r.score:.4f}"
        weak = click.style("  weak match", fg="red") if r.weak else ""
        click.secho(
            f"[{r.rank}] {similarity}  article {r.article_id}  chars {r.char_start}-{r.char_end}", bold=True, nl=False
        )
        click.echo(weak)
        click.secho(wrap(safe(r.title or "(untitled)"), "    "), bold=True)
        for paragraph in safe(r.text).split("\n\n"):
            click.echo(wrap(paragraph, "    "))
        if r.passages:
            spans = ", ".join(f"{p.char_start}-{p.char_end}" for p in r.passages)
            click.secho(wrap(f"also matching in this article: chars {spans}", "    "), fg="cyan")
        label = "source" if r.source_count == 1 else f"{r.source_count} sources"
        click.secho(f"    {label}:", fg="cyan")
        for s in r.sources:
            click.echo("    - " + _source_line(s.outlet, s.title, s.url, s.published, indent="    - "))
        click.echo()


def print_article(view: ArticleView, span: tuple[int, int] | None) -> None:
    click.secho(wrap(safe(view.title or "(untitled)")), bold=True)
    click.echo(_source_line(view.outlet, "", view.url, view.published).replace(" | (untitled)", ""))
    if view.duplicate_kind:
        click.echo(f"{view.duplicate_kind} duplicate of article {view.canonical_id}")
    click.echo()
    text = safe(view.text)
    if span is not None:  # the offsets are into the stored text: escape its pieces, then mark
        start, end = span
        raw = view.text
        text = f"{safe(raw[:start])}{_MARK_ON}>>> {safe(raw[start:end])} <<<{_MARK_OFF}{safe(raw[end:])}"
    on, off = click.style("", fg="yellow", reset=False), click.style("", reset=True)
    for paragraph in text.split("\n\n"):
        click.echo(wrap(paragraph).replace(_MARK_ON, on).replace(_MARK_OFF, off))
        click.echo()
    if len(view.copies) > 1:
        click.secho(f"{len(view.copies)} copies:", fg="cyan")
        for s in view.copies:
            kind = f" [{s.duplicate_kind}]" if s.duplicate_kind else ""
            lead = f"  - #{s.article_id}{kind} "
            click.echo(lead + _source_line(s.outlet, s.title, s.url, s.published, indent=lead))


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A counter on stderr when it is a terminal; nothing otherwise (cron, pipes)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    bar: ProgressBar[int]  # length=None (unknown total) leaves click's item type open
    with click.progressbar(length=None, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def print_boilerplate(learned: Sequence[LearnedSentence]) -> None:
    if not learned:
        click.echo("no boilerplate learned yet (an outlet's sentence is learned once several of its stories repeat it)")
        return
    outlet = None
    for sentence in learned:
        if sentence.outlet != outlet:
            outlet = sentence.outlet
            click.secho(outlet, bold=True)
        span = f"{(sentence.first_published or '?')[:10]}..{(sentence.last_published or '?')[:10]}"
        click.echo(f"  {sentence.stories:>5} stories  {span}  {sentence.text}")
        if sentence.opening:
            click.echo(f"  {'':>5}          {'':>{len(span)}}  (also any sentence opening: {sentence.opening} ...)")


def print_duplicate_groups(groups: Sequence[DuplicateGroup]) -> None:
    if not groups:
        click.echo("no duplicates")
        return
    for group in groups:
        c = group.canonical
        lead = f"#{c.article_id} ({group.size} copies) "
        click.secho(lead + _source_line(c.outlet, c.title, c.url, c.published, indent=lead), bold=True)
        for s in group.copies:
            score = f" {s.similarity:.2f}" if s.similarity is not None else ""
            lead = f"  - #{s.article_id} [{s.duplicate_kind}{score}] "
            click.echo(lead + _source_line(s.outlet, s.title, s.url, s.published, indent=lead))
        click.echo()
