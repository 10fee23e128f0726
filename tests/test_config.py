"""archive.config: settings parse strictly (private networks, input cap, embedding precision)."""

from __future__ import annotations

import pytest

from archive.config import Settings, redact_passwords
from archive.errors import ConfigError


def test_defaults_refuse_private_networks_and_cap_inputs_at_64_mib() -> None:
    settings = Settings.resolve(db="x.db", env={})
    assert settings.allow_private_networks is False
    assert settings.max_input_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("0", False), ("off", False), ("", False)])
def test_allow_private_reads_a_flag(raw: str, expected: bool) -> None:
    assert Settings.resolve(db="x.db", env={"ARCHIVE_ALLOW_PRIVATE": raw}).allow_private_networks is expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("ARCHIVE_ALLOW_PRIVATE", "maybe"),
        ("ARCHIVE_MAX_INPUT_MB", "nan"),
        ("ARCHIVE_MAX_INPUT_MB", "0"),
        ("ARCHIVE_PRECISION", "fp16"),
        ("ARCHIVE_PRECISION", "int8"),
    ],
)
def test_bad_values_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.resolve(db="x.db", env={name: raw})


def test_the_input_cap_is_set_in_mib() -> None:
    assert Settings.resolve(db="x.db", env={"ARCHIVE_MAX_INPUT_MB": "2"}).max_input_bytes == 2 * 1024 * 1024


def test_a_server_url_is_a_location_not_a_file_and_its_password_stays_out_of_messages() -> None:
    settings = Settings.resolve(db="postgresql://archive:s3cret@db.example.org/news", env={})
    assert settings.db_url == "postgresql://archive:s3cret@db.example.org/news" and settings.db_exists
    assert "s3cret" not in str(settings.db_path)
    assert redact_passwords("ingest -d postgresql://archive:s3cret@h/news x.jsonl") == (
        "ingest -d postgresql://archive:***@h/news x.jsonl"
    )
    assert Settings.resolve(db="news.db", env={}).db_url is None


def test_redacted_urls_hide_a_password_in_the_authority_or_the_query() -> None:
    from archive.config import redact_url

    assert redact_url("postgresql://news:s3cret@db/archive") == "postgresql://news:***@db/archive"
    assert redact_url("postgresql://news@db/archive?password=s3cret&sslmode=require") == (
        "postgresql://news@db/archive?password=***&sslmode=require"
    )
    assert redact_url("postgresql://news@db/archive") == "postgresql://news@db/archive"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "auto"),
        ("AUTO", "auto"),
        ("float32", "float32"),
        (" fp32 ", "float32"),
        ("bf16", "bfloat16"),
        ("bfloat16", "bfloat16"),
    ],
)
def test_precision_takes_its_names_and_short_forms(raw: str, expected: str) -> None:
    assert Settings.resolve(db="x.db", env={"ARCHIVE_PRECISION": raw}).embedding.precision == expected
