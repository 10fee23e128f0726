#!/usr/bin/env bash
# Ingest a drop folder into the archive; safe to run from cron.
#
# Usage:  scripts/cron-ingest.sh DROP_FOLDER [more `archive ingest` options]
#
# Environment:
#   ARCHIVE_DB    the archive database (default: $ARCHIVE_HOME/archive.db)
#   ARCHIVE_HOME  model cache and default database folder (default: ~/.local/share/conflict-archive)
#   ARCHIVE_LOG   log file, one line per run and per error (default: $ARCHIVE_HOME/logs/ingest.log)
#   ARCHIVE_WAIT  seconds to wait for another writer before giving up (default: 0)
#
# Exit code: that of `archive ingest`, passed through:
#   0 ok | 1 an input failed (named in the log) | 75 another ingest/writer holds the archive
#   (EX_TEMPFAIL: nothing done, the next run picks the files up) | 130/143 interrupted.
# Stderr (which cron mails) carries only errors; a busy archive (75) is logged but not mailed.
# Uses the repository's .venv (scripts/setup.sh creates it). Files stay in the drop folder:
# re-reading them is harmless, what is stored is skipped.
#
# crontab, every 15 minutes:
#   */15 * * * * ARCHIVE_DB=/srv/news/news.db /opt/conflict-archive/scripts/cron-ingest.sh /srv/news/drop
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="$repo/.venv/bin/python"
if [ $# -lt 1 ]; then
  echo "usage: $0 DROP_FOLDER [archive ingest options]" >&2
  exit 64  # EX_USAGE
fi
if [ ! -x "$python" ]; then
  echo "cron-ingest: $python is missing: run $repo/scripts/setup.sh first" >&2
  exit 1
fi
drop="$1"
shift
home="${ARCHIVE_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/conflict-archive}"
log="${ARCHIVE_LOG:-$home/logs/ingest.log}"

errors="$(mktemp "${TMPDIR:-/tmp}/cron-ingest.XXXXXX")"
trap 'rm -f "$errors"' EXIT
# `timeout` or a shutdown sends SIGTERM: forward it so the run is recorded as interrupted.
"$python" -m archive ingest "$drop" --quiet --wait "${ARCHIVE_WAIT:-0}" --log-file "$log" "$@" 2>"$errors" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"
status=$?
if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then
  wait "$child"  # interrupted while waiting: collect the child's own exit code
  status=$?
fi
if [ "$status" -ne 75 ]; then
  cat "$errors" >&2
fi
exit "$status"
