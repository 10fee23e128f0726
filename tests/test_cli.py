"""The CLI: thin commands, --help with examples everywhere, --json, friendly errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.cli import cli
from tests.conftest import SAMPLE


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, path))
    return found


@pytest.mark.parametrize("path", _all_commands(cli), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = runner.invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    if not isinstance(command, click.Group):
        assert "Example" in result.output, f"`archive {' '.join(path)} --help` has no example"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ARCHIVE_DB": str(tmp_path / "cli.db"), "ARCHIVE_MODEL": "fake"}


def test_ingest_then_search_as_json(runner: CliRunner, env: dict[str, str]) -> None:
    ingest = runner.invoke(cli, ["ingest", str(SAMPLE), "--json"], env=env)
    assert ingest.exit_code == 0, ingest.output
    report = json.loads(ingest.output)
    assert report["added"] >= 7 and report["errors"] == []
    result = runner.invoke(cli, ["search", "drones cut power in Odesa", "-k", "2", "--json"], env=env)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 2
    assert {"text", "score", "scores", "sources", "article_id", "char_start", "char_end", "highlights"} <= set(hits[0])
    assert hits[0]["source_count"] == 3


def test_jsonl_prints_one_object_per_line(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    result = runner.invoke(cli, ["search", "Aleppo aid convoy", "-k", "3", "--jsonl"], env=env)
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["rank"] for line in lines)


def test_text_output_lists_sources(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    result = runner.invoke(cli, ["search", "drones Odesa power grid", "-k", "1"], env=env)
    assert result.exit_code == 0
    assert "3 sources" in result.output and "Example Gazette" in result.output


def test_failed_input_gives_a_message_naming_the_file_and_exit_code_1(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"title": "x", "text": "fine text here"}\n{broken\n', encoding="utf-8")
    result = runner.invoke(cli, ["ingest", str(bad)], env=env)
    assert result.exit_code == 1
    assert "broken.jsonl" in result.output
    assert "1 article(s) added" in result.output


def test_bad_search_input_is_a_friendly_error(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    result = runner.invoke(cli, ["search", "x", "--since", "yesterday"], env=env)
    assert result.exit_code == 1
    assert "Error: invalid date" in result.output and "Traceback" not in result.output


def test_model_mismatch_explains_the_fix(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    result = runner.invoke(cli, ["search", "x"], env={**env, "ARCHIVE_MODEL": "fake:64"})
    assert result.exit_code == 1 and "reembed" in result.output


def test_show_prints_the_article_with_its_copies(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    hit = json.loads(runner.invoke(cli, ["search", "drones Odesa", "-k", "1", "--json"], env=env).output)[0]
    result = runner.invoke(cli, ["show", str(hit["article_id"]), "--chunk", str(hit["chunk_id"])], env=env)
    assert result.exit_code == 0
    assert hit["text"][:40] in result.output and "copies" in result.output
    missing = runner.invoke(cli, ["show", "9999"], env=env)
    assert missing.exit_code == 1 and "no article" in missing.output


def test_db_upgrade_reports_the_revision(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert result.exit_code == 0 and "schema at revision" in result.output


def test_stats_as_json(runner: CliRunner, env: dict[str, str]) -> None:
    runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=env)
    data = json.loads(runner.invoke(cli, ["stats", "--json"], env=env).output)
    assert data["articles"] == 8 and data["exact_duplicates"] == 1 and data["model"] == "fake-embedder"
