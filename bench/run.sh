#!/usr/bin/env bash
# The one benchmark command; see bench/README.md.
#   bash bench/run.sh [--quick] [--systems bare,doorman-sqlite,...] [--users N] [--only SCENARIOS]
# Builds doorman and examples/bare.rs in release mode, installs wrk and the
# Django/Djoser venv if missing, then runs bench/bench.py with the same arguments.
# BENCH_SKIP_BUILD=1 skips the cargo builds (the binaries must exist).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/doorman-target}"
export BENCH_VENV="${BENCH_VENV:-/tmp/bench-venv}"
cd "$ROOT"

say() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

BENCH_PID=""
on_exit() {
  # bench.py stops every server it started (atexit and SIGTERM/SIGINT handlers);
  # make sure it gets the chance if this script is interrupted.
  if [[ -n "$BENCH_PID" ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  say "cargo build --release (the first build takes several minutes)"
  cargo build --release
  say "cargo build --release --example bare"
  cargo build --release --example bare
fi

want_djoser=1
for ((i = 1; i <= $#; i++)); do
  if [[ "${!i}" == --systems ]]; then
    j=$((i + 1)); [[ "${!j:-}" == *djoser* ]] || want_djoser=0
  elif [[ "${!i}" == --systems=* ]]; then
    [[ "${!i}" == *djoser* ]] || want_djoser=0
  fi
done
if [[ $want_djoser == 1 && ! -x "$BENCH_VENV/bin/gunicorn" ]]; then
  say "creating $BENCH_VENV (Django 5.2, DRF, simplejwt 5.5.1, Djoser 2.3.5, gunicorn, psycopg2-binary)"
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q 'django==5.2.*' djangorestframework \
    'djangorestframework-simplejwt==5.5.1' 'djoser==2.3.5' gunicorn psycopg2-binary
fi

PYTHONDONTWRITEBYTECODE=1 python3 "$BENCH/bench.py" --command "bash bench/run.sh${*:+ $*}" "$@" &
BENCH_PID=$!
wait "$BENCH_PID"
