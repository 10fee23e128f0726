"""archive.cli.render: text fits the terminal (80 columns off a terminal), URLs are never broken."""

from __future__ import annotations

import io
import os

import pytest

from archive.cli import render


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_width_is_80_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", io.StringIO())
    monkeypatch.setattr(render.shutil, "get_terminal_size", lambda fallback: os.terminal_size((200, 50)))
    assert render.text_width() == 80


def test_width_follows_the_terminal_with_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", _Terminal())
    monkeypatch.setattr(render.shutil, "get_terminal_size", lambda fallback: os.terminal_size((132, 50)))
    assert render.text_width() == 132
    monkeypatch.setattr(render.shutil, "get_terminal_size", lambda fallback: os.terminal_size((10, 50)))
    assert render.text_width() == render.MIN_WIDTH


def test_wrap_keeps_urls_whole_and_indents_continuations() -> None:
    url = "https://example.org/" + "a" * 90
    text = render.wrap(f"see {url} for the full report on the shelling of the port", "    ", "      ", width=60)
    lines = text.splitlines()
    assert url in lines[1] and lines[0] == "    see"
    assert all(line.startswith("      ") for line in lines[1:])
    assert all(len(line) <= 60 for line in lines if url not in line)
