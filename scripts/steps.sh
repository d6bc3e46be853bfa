# shellcheck shell=bash
# One line on the terminal per set-up step, its output in a log file: sourced by
# bootstrap.sh. `step WHAT COMMAND...` runs COMMAND with stdout and stderr appended to
# $BOOTSTRAP_LOG and prints "bootstrap: WHAT ... ok (N s)"; a failing step prints
# FAILED, the log's path and its last 30 lines, and exits with the command's status.
BOOTSTRAP_LOG=${BOOTSTRAP_LOG:-reports/bootstrap.log}
mkdir -p "$(dirname "$BOOTSTRAP_LOG")"

step() {
  local what=$1 t0=$SECONDS rc
  shift
  printf 'bootstrap: %s ... ' "$what"
  printf '\n== %s (%s): %s\n' "$what" "$(date -u +%FT%TZ)" "$*" >> "$BOOTSTRAP_LOG"
  if "$@" >> "$BOOTSTRAP_LOG" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    rc=$?
    echo "FAILED (exit $rc)"
    echo "bootstrap: $what failed; the last lines of $BOOTSTRAP_LOG:" >&2
    tail -n 30 "$BOOTSTRAP_LOG" >&2
    exit "$rc"
  fi
}
