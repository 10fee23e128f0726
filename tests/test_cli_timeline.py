"""`archive timeline`, `archive outlets`, `archive search --sort/--csv`, and `archive serve`'s refusals."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli
from tests.conftest import SAMPLE


@pytest.fixture
def env(tmp_path: Path, runner: CliRunner) -> dict[str, str]:
    values = {"ARCHIVE_DB": str(tmp_path / "cli.db"), "ARCHIVE_MODEL": "fake"}
    assert runner.invoke(cli, ["ingest", str(SAMPLE), "-q"], env=values).exit_code == 0
    return values


def test_timeline_draws_bars_and_marks_the_earliest_report(runner: CliRunner, env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["timeline", "drones", "--by", "day"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("2023-08-24 ") and "█" in lines[0] and "earliest" in lines[0]
    assert "earliest report: Example Wire, 2023-08-24" in result.output
    assert "3 articles" in result.output


def test_timeline_json_and_csv(runner: CliRunner, env: dict[str, str]) -> None:
    data = json.loads(runner.invoke(cli, ["timeline", "drones", "--by", "day", "--json"], env=env).output)
    assert data["total"] == 3 and [b["count"] for b in data["buckets"]] == [2, 1]
    rows = list(csv.reader(io.StringIO(runner.invoke(cli, ["timeline", "drones", "--csv"], env=env).output)))
    assert rows[0][:2] == ["month", "articles"] and rows[1][:2] == ["2023-08", "3"]
    assert sum(int(n) for n in rows[1][2:]) == 3


def test_timeline_outlet_filter_and_errors(runner: CliRunner, env: dict[str, str]) -> None:
    data = json.loads(
        runner.invoke(cli, ["timeline", "drones", "--outlet", "Example Gazette", "--json"], env=env).output
    )
    assert data["total"] == 1
    bad = runner.invoke(cli, ["timeline", "drones", "--outlet", "Nowhere"], env=env)
    assert bad.exit_code == 1 and "known outlets" in bad.output and "Traceback" not in bad.output
    none = runner.invoke(cli, ["timeline", "zzzxqy"], env=env)
    assert none.exit_code == 0 and "no article matches" in none.output


def test_outlets_lists_counts_and_dates(runner: CliRunner, env: dict[str, str]) -> None:
    text = runner.invoke(cli, ["outlets"], env=env).output
    assert "Example Wire" in text and "2017-04-04" in text
    data = json.loads(runner.invoke(cli, ["outlets", "--json"], env=env).output)
    assert {o["name"] for o in data} == {"Example Wire", "Example Daily", "Example Gazette"}
    assert sum(o["articles"] for o in data) == 7  # the undated article of the sample has no outlet


def test_search_sort_by_date_and_csv(runner: CliRunner, env: dict[str, str]) -> None:
    out = runner.invoke(cli, ["search", "power plant", "-k", "5", "--sort", "date", "--json"], env=env).output
    dates = [r["published"] for r in json.loads(out) if r["published"]]
    assert len(dates) >= 2 and dates == sorted(dates)
    rows = list(
        csv.DictReader(io.StringIO(runner.invoke(cli, ["search", "drones Odesa", "-k", "2", "--csv"], env=env).output))
    )
    assert len(rows) == 2 and rows[0]["rank"] == "1" and rows[0]["source_count"] == "3"
    assert rows[0]["outlets"].count("; ") == 2 and rows[0]["text"]


def test_serve_refuses_a_missing_db_a_public_host_without_token_and_a_busy_port(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    missing = runner.invoke(cli, ["serve", "-d", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no archive at" in missing.output
    assert not (tmp_path / "none.db").exists()
    public = runner.invoke(cli, ["serve", "--host", "0.0.0.0"], env=env)
    assert public.exit_code == 1 and "--token" in public.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = runner.invoke(cli, ["serve", "--port", str(port)], env=env)
    assert taken.exit_code == 1 and "in use" in taken.output and "Traceback" not in taken.output
