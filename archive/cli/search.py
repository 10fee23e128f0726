"""`archive search` and `archive show`."""

from __future__ import annotations

import json
from typing import TypedDict

import click

from archive.cli import cli
from archive.cli.common import FiniteFloat, db_options, friendly_errors, opened
from archive.cli.render import print_article, print_results
from archive.cli.tables import results_csv


class SearchOptions(TypedDict):
    """The keyword arguments ``archive search`` passes to :meth:`Archive.search` (and ``quick_search``)."""

    k: int
    mode: str
    since: str | None
    until: str | None
    outlets: list[str] | None
    language: str | None
    dedup: bool
    semantic_weight: float
    keyword_weight: float
    per_article: int | None
    passages: bool
    min_score: float | None


@cli.command()
@click.argument("query")
@db_options
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Number of results.")
@click.option("--mode", type=click.Choice(["hybrid", "semantic", "keyword"]), default="hybrid", show_default=True)
@click.option("--since", help="Only passages published on/after this date (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--until", help="Only passages published on/before this date (inclusive).")
@click.option("--outlet", "outlets", multiple=True, help="Only these outlets (repeatable).")
@click.option("--language", help="Only articles in this language (where known).")
@click.option("--no-dedup", is_flag=True, help="Show every copy instead of one result per duplicate group.")
@click.option(
    "--per-article", type=click.IntRange(1, 1000), help="Up to N passages of each article as separate results."
)
@click.option("--passages", is_flag=True, help="Every matching passage (one per duplicate group), not one per article.")
@click.option(
    "--min-score",
    type=FiniteFloat(-1.0, 1.0),
    help="Drop results whose similarity (cosine, -1..1) to the query is below this.",
)
@click.option(
    "--semantic-weight",
    type=FiniteFloat(0, 1e6),
    default=1.0,
    show_default=True,
    help="Hybrid: weight of the vector ranking.",
)
@click.option(
    "--keyword-weight",
    type=FiniteFloat(0, 1e6),
    default=1.0,
    show_default=True,
    help="Hybrid: weight of the BM25 ranking.",
)
@click.option(
    "--sort",
    type=click.Choice(["score", "date", "-date"]),
    default="score",
    show_default=True,
    help="Order of the k results: by score, by date (earliest first) or -date (newest first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as a JSON array.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per result.")
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print results as CSV (one row per result, outlets joined by '; ')."
)
def search(
    query: str,
    db: str | None,
    model: str | None,
    home: str | None,
    k: int,
    mode: str,
    since: str | None,
    until: str | None,
    outlets: tuple[str, ...],
    language: str | None,
    no_dedup: bool,
    per_article: int | None,
    passages: bool,
    min_score: float | None,
    semantic_weight: float,
    keyword_weight: float,
    sort: str,
    as_json: bool,
    as_jsonl: bool,
    as_csv: bool,
) -> None:
    """Search articles: one result per article, copies collapsed, every source listed.

    Each result is the article's best passage (its other matching passages are listed
    below it), with its similarity to the query (cosine; "weak" below 0.3). Put a phrase
    in "quotes"; -word leaves out articles holding it. Kyiv/Kiev and other spellings of a
    name all match.

    \b
    Examples:
      archive search "attack on the Zaporizhzhia nuclear plant" -k 5
      archive search "grain deal" --since 2022-07 --until 2022-08 --outlet Reuters --json
      archive search "U.S. sanctions" --mode keyword
      archive search '"nuclear plant" shelling -Chernobyl' --min-score 0.3
      archive search "Kiev metro shelters" --per-article 2
      archive search "Bucha" -k 200 --mode keyword --sort date --csv > bucha.csv
    """
    options = SearchOptions(
        k=k,
        mode=mode,
        since=since,
        until=until,
        outlets=list(outlets) or None,
        language=language,
        dedup=not no_dedup,
        semantic_weight=semantic_weight,
        keyword_weight=keyword_weight,
        per_article=per_article,
        passages=passages,
        min_score=min_score,
    )
    # A ready SQLite archive is searched without opening an Archive (no SQLAlchemy import);
    # anything else, errors included, goes through Archive.search. Imported here: `--help` needs neither.
    from archive.oneshot import quick_search

    results = quick_search(query, db=db, model=model, home=home, **options)
    if results is None:
        with opened(db, model, home) as archive, friendly_errors():
            results = archive.search(query, **options)
    if sort != "score":  # results come by score: the coverage module (timelines, ~7 ms to import) sorts the others
        from archive.search.coverage import sort_results

        with friendly_errors():
            results = sort_results(results, sort)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    elif as_jsonl:
        for r in results:
            click.echo(json.dumps(r.to_dict(), ensure_ascii=False))
    elif as_csv:
        click.echo(results_csv(results), nl=False)
    else:
        print_results(results)


@cli.command()
@click.argument("article_id", type=int)
@db_options
@click.option("--chunk", "chunk_id", type=int, help="Mark this passage (chunk id from search) in the text.")
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
def show(
    article_id: int, db: str | None, model: str | None, home: str | None, chunk_id: int | None, as_json: bool
) -> None:
    """Print an article, its sources, and a passage in context.

    \b
    Example:
      archive show 42 --chunk 311
    """
    with opened(db, model, home) as archive, friendly_errors():
        view = archive.article(article_id)
        span = archive.chunk_span(chunk_id, article_id=article_id) if chunk_id is not None else None
    if as_json:
        click.echo(json.dumps(view.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_article(view, span)
