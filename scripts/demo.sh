#!/usr/bin/env bash
# Install, create a fresh archive, ingest the bundled sample (with the seed article), and search it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export ARCHIVE_HOME="${ARCHIVE_HOME:-$PWD/.archive-home}"
export ARCHIVE_DB="${ARCHIVE_DB:-$PWD/demo.db}"
rm -f "$ARCHIVE_DB" "$ARCHIVE_DB-wal" "$ARCHIVE_DB-shm"
A=.venv/bin/archive
set -x
$A db upgrade
$A ingest archive/sample/
$A ingest archive/sample/            # a re-run adds nothing
$A search "Putin and Trump talk about a ceasefire on energy strikes" -k 2
$A search "drones knocked out electricity in Odesa" -k 2
$A search "nerve agent symptoms in Syria" -k 1 --mode keyword
$A search "nuclear plant safety" -k 1 --since 2023-01 --json
$A stats
$A outlets
$A timeline "Ukraine" --by week
