"""Rendering of coverage for the terminal and CSV: timelines as bar charts, outlet tables, result rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from archive.results import SearchResult
    from archive.search.coverage import OutletSummary, Timeline

BAR_WIDTH = 40
RESULT_COLUMNS = (
    "rank",
    "score",
    "published",
    "outlet",
    "title",
    "url",
    "article_id",
    "chunk_id",
    "char_start",
    "char_end",
    "source_count",
    "outlets",
    "text",
)


def print_timeline(timeline: Timeline) -> None:
    """One line per bucket: a bar, the count, the outlets; the earliest report marked."""
    if not timeline.total:
        click.echo(f"no article matches ({timeline.matching})")
        return
    peak = max((b.count for b in timeline.buckets), default=1) or 1
    for bucket in timeline.buckets:
        bar = "█" * max(1 if bucket.count else 0, round(BAR_WIDTH * bucket.count / peak))
        outlets = ", ".join(f"{name} {n}" for name, n in sorted(bucket.outlets.items(), key=lambda kv: -kv[1]))
        mark = click.style("  ◀ earliest", fg="red") if bucket.start == timeline.earliest_bucket else ""
        click.echo(f"{bucket.start:<10} {bar:<{BAR_WIDTH}} {bucket.count:>5}  {outlets}{mark}")
    first = timeline.earliest
    if first:
        click.echo(
            f"\nearliest report: {first.outlet or 'unknown outlet'}, {(first.published or '')[:10]}, "
            f"{first.title or '(untitled)'} (article {first.article_id})"
        )
    undated = f", {timeline.undated} undated" if timeline.undated else ""
    click.echo(f"{timeline.total} articles{undated}: {timeline.matching}")


def timeline_csv(timeline: Timeline) -> str:
    """bucket, articles, then one column per outlet (largest first)."""
    names = [c.value for c in timeline.outlets]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([timeline.by, "articles", *names])
    for b in timeline.buckets:
        writer.writerow([b.start, b.count, *(b.outlets.get(n, 0) for n in names)])
    return out.getvalue()


def print_outlets(outlets: Sequence[OutletSummary]) -> None:
    if not outlets:
        click.echo("no outlets yet (add articles with: archive ingest FILES)")
        return
    width = max(len(o.name) for o in outlets)
    click.secho(f"{'outlet':<{width}}  {'articles':>8}  {'first':<10}  {'last':<10}", bold=True)
    for o in outlets:
        first, last = (o.first_published or "—")[:10], (o.last_published or "—")[:10]
        click.echo(f"{o.name:<{width}}  {o.articles:>8}  {first:<10}  {last:<10}")


def results_csv(results: Sequence[SearchResult]) -> str:
    """One row per result; ``outlets`` joins every source's outlet, earliest first, with '; '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in results:
        outlets = "; ".join(s.outlet or "unknown outlet" for s in r.sources)
        writer.writerow(
            [
                r.rank,
                f"{r.score:.6f}",
                r.published or "",
                r.outlet or "",
                r.title,
                r.url or "",
                r.article_id,
                r.chunk_id,
                r.char_start,
                r.char_end,
                r.source_count,
                outlets,
                r.text,
            ]
        )
    return out.getvalue()
