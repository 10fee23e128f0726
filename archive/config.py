"""Settings, resolved once: CLI option > environment variable > default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DB = "ARCHIVE_DB"
ENV_MODEL = "ARCHIVE_MODEL"
ENV_HOME = "ARCHIVE_HOME"


def default_home() -> Path:
    """Where models are cached and the default database lives."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "conflict-archive"


@dataclass(frozen=True)
class Settings:
    """Every knob the archive reads from its environment, frozen after start-up."""

    db_path: Path
    home: Path
    model: str | None  # None means: the model recorded in the db, else the default

    @classmethod
    def resolve(
        cls, db: str | Path | None = None, model: str | None = None, home: str | Path | None = None
    ) -> Settings:
        """Build settings from explicit values, falling back to env vars and defaults."""
        home_path = Path(home).expanduser() if home else default_home()
        db_value = db or os.environ.get(ENV_DB)
        db_path = Path(db_value).expanduser() if db_value else home_path / "archive.db"
        return cls(db_path=db_path, home=home_path, model=model or os.environ.get(ENV_MODEL) or None)
