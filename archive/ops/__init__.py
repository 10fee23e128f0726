"""Operations on a whole archive: health checks, delete, re-embed, vacuum, backup."""

from __future__ import annotations

from archive.ops.doctor import Check, DoctorReport, diagnose
from archive.ops.maintenance import (
    BackupReport,
    DeleteReport,
    VacuumReport,
    backup,
    delete_articles,
    select_for_delete,
    vacuum,
)
from archive.ops.reembed import ReembedReport, reembed, reembed_database

__all__ = [
    "BackupReport",
    "Check",
    "DeleteReport",
    "DoctorReport",
    "ReembedReport",
    "VacuumReport",
    "backup",
    "delete_articles",
    "diagnose",
    "reembed",
    "reembed_database",
    "select_for_delete",
    "vacuum",
]
