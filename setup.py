"""Packaging glue pyproject.toml cannot express: ship the top-level migrations/ inside the wheel.

migrations/ stays at the repository root (alembic.ini's script_location, ``alembic -x db=PATH ...``
from a checkout); in the wheel it becomes ``archive/_migrations`` so that an installed package finds
its schema next to its code (archive.store.migrate looks there first). Everything else is in
pyproject.toml.
"""

from __future__ import annotations

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["archive", "archive.*"]), "archive._migrations", "archive._migrations.versions"],
    package_dir={"archive._migrations": "migrations"},
)
