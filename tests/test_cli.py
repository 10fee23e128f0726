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


# -- options before or after the command, wrapping, JSON keys, last resort (issue 10) --
@pytest.fixture
def filled(runner: CliRunner, tmp_path: Path) -> Path:
    db = tmp_path / "filled.db"
    assert runner.invoke(cli, ["ingest", "-d", str(db), "--model", "fake", str(SAMPLE), "-q"]).exit_code == 0
    return db


def test_db_works_before_or_after_the_command_name(runner: CliRunner, filled: Path, tmp_path: Path) -> None:
    before = runner.invoke(cli, ["--db", str(filled), "stats", "--json"])
    after = runner.invoke(cli, ["stats", "--json", "-d", str(filled)])
    assert before.exit_code == after.exit_code == 0, before.output
    assert json.loads(before.output)["articles"] == json.loads(after.output)["articles"] == 8
    nested = runner.invoke(cli, ["-d", str(filled), "feeds", "list", "--json"])
    assert nested.exit_code == 0 and json.loads(nested.output) == []


def test_the_commands_own_db_wins_and_the_group_value_beats_the_environment(
    runner: CliRunner, filled: Path, tmp_path: Path
) -> None:
    elsewhere = {"ARCHIVE_DB": str(tmp_path / "elsewhere.db")}
    grouped = runner.invoke(cli, ["--db", str(filled), "stats", "--json"], env=elsewhere)
    assert grouped.exit_code == 0 and json.loads(grouped.output)["db_path"] == str(filled)
    own = runner.invoke(cli, ["--db", str(tmp_path / "other.db"), "stats", "-d", str(filled), "--json"])
    assert own.exit_code == 0 and json.loads(own.output)["db_path"] == str(filled)
    assert not (tmp_path / "elsewhere.db").exists() and not (tmp_path / "other.db").exists()


def test_model_and_home_work_before_the_command_name(runner: CliRunner, filled: Path) -> None:
    result = runner.invoke(cli, ["--model", "fake:64", "-d", str(filled), "search", "Aleppo"])
    assert result.exit_code == 1 and "reembed" in result.output  # the group's --model reached the command


def test_reading_commands_on_a_missing_path_exit_2_and_create_nothing(runner: CliRunner, tmp_path: Path) -> None:
    typo = tmp_path / "ukr.bd"
    for args in (["search", "Bucha"], ["stats"], ["show", "1"], ["runs"], ["duplicates"], ["doctor"]):
        result = runner.invoke(cli, [*args, "-d", str(typo)])
        assert result.exit_code == 2, (args, result.output)
        assert f"no archive at {typo} (create it with: archive ingest -d {typo} FILES)" in result.output
    assert not typo.exists()


def _long_lines(output: str, width: int = 80, path: Path | None = None) -> list[str]:
    # A URL longer than the width stays whole on its own line rather than breaking; so does the
    # archive's own path (the test's temp folder, however long it is), which is left out.
    lines = (line.replace(str(path), "PATH") if path else line for line in output.splitlines())
    return [line for line in lines if len(line) > width and " " in line.strip()]


def test_show_wraps_paragraphs_and_marks_the_passage(runner: CliRunner, filled: Path, tmp_path: Path) -> None:
    article = tmp_path / "long.txt"
    article.write_text("Long report\n\n" + " ".join(["Shelling near the port continued overnight."] * 100))
    runner.invoke(cli, ["ingest", "-d", str(filled), str(article), "-q"])
    hit = json.loads(runner.invoke(cli, ["search", "-d", str(filled), "port overnight", "-k", "1", "--json"]).output)[0]
    shown = runner.invoke(cli, ["-d", str(filled), "show", str(hit["article_id"]), "--chunk", str(hit["chunk_id"])])
    assert shown.exit_code == 0
    assert shown.output.count("Shelling") == 100 and not _long_lines(shown.output)
    assert ">>> " in shown.output and " <<<" in shown.output
    plain = runner.invoke(cli, ["-d", str(filled), "show", str(hit["article_id"])])
    assert plain.exit_code == 0 and not _long_lines(plain.output) and len(plain.output.splitlines()) > 50


def test_search_duplicates_and_doctor_text_fit_80_columns_off_a_terminal(runner: CliRunner, filled: Path) -> None:
    for args in (["search", "drones Odesa power grid", "-k", "3"], ["duplicates"], ["doctor"]):
        result = runner.invoke(cli, ["-d", str(filled), *args])
        assert result.exit_code == 0 and result.output.strip(), args
        assert not _long_lines(result.output, path=filled), (args, _long_lines(result.output, path=filled))


def test_every_json_output_names_an_article_id_article_id(runner: CliRunner, filled: Path) -> None:
    db = ["-d", str(filled)]
    hit = json.loads(runner.invoke(cli, [*db, "search", "drones Odesa", "-k", "1", "--json"]).output)[0]
    assert "article_id" in hit and all("article_id" in s for s in hit["sources"])
    view = json.loads(runner.invoke(cli, [*db, "show", str(hit["article_id"]), "--json"]).output)
    assert view["article_id"] == hit["article_id"] and "id" not in view
    assert view["copies"] and all("article_id" in c and "id" not in c for c in view["copies"])
    groups = json.loads(runner.invoke(cli, [*db, "duplicates", "--json"]).output)
    assert groups and all("article_id" in g["canonical"] for g in groups)
    dry = json.loads(runner.invoke(cli, [*db, "delete", "--before", "2030", "--dry-run", "--json"]).output)
    assert dry["articles"] and all("article_id" in a for a in dry["articles"])
    runs = json.loads(runner.invoke(cli, [*db, "runs", "--json"]).output)
    assert runs and "run_id" in runs[0] and "id" not in runs[0]


def test_an_unexpected_error_is_one_line_asking_for_a_report(
    runner: CliRunner, filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.api import Archive

    def broken(self: Archive) -> dict[str, object]:
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(Archive, "stats", broken)
    result = runner.invoke(cli, ["stats", "-d", str(filled)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "internal error: RuntimeError: something nobody expected second line" in result.output
    assert "please report" in result.output and "Traceback" not in result.output
