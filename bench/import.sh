#!/usr/bin/env bash
# Times `doorman import-django` over a Django database of N users (default
# 1,000,000): Django (tests/django/site) migrates a SQLite file, seed.py
# adds the users, and every tenth user gets a DRF token, a group membership
# and a profile. The copy goes into an empty SQLite file and into an empty
# PostgreSQL database (127.0.0.1:5432), each followed by a second run that
# must find nothing to do. Prints the wall time of each run; stops by
# itself and removes what it made.
#
#   bash bench/import.sh [N]
#
# Needs the release binary (cargo build --release; DOORMAN_BIN overrides)
# and Django importable by python3 (the virtualenv .ci/run makes:
# PATH=$HOME/.cache/doorman-venv/bin:$PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bin=${DOORMAN_BIN:-${CARGO_TARGET_DIR:-target}/release/doorman}
[ -x "$bin" ] || { echo "no release binary at $bin (cargo build --release)" >&2; exit 1; }
work=$(mktemp -d)
pgdb="doorman_import_bench_$$"
cleanup() {
  rm -rf "$work"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pgdb" postgres >/dev/null 2>&1 || true
}
trap cleanup EXIT

src="$work/django.sqlite3"
DATABASE_URL="sqlite://$src" DJANGO_SECRET_KEY=bench-import-key \
  python3 tests/django/site/proof.py migrate >/dev/null
hash='pbkdf2_sha256$1000000$benchsaltbenchsalt12$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
python3 bench/seed.py sqlite "$src" "$hash" --users "$n" >/dev/null
python3 - "$src" <<'PY'
import datetime, secrets, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
with con:
    con.execute("INSERT INTO auth_group (name) VALUES ('members')")
    gid = con.execute("SELECT id FROM auth_group WHERE name = 'members'").fetchone()[0]
    ids = [r[0] for r in con.execute("SELECT id FROM auth_user WHERE id % 10 = 0")]
    con.executemany("INSERT INTO auth_user_groups (user_id, group_id) VALUES (?, ?)", ((i, gid) for i in ids))
    con.executemany("INSERT INTO authtoken_token (key, created, user_id) VALUES (?, ?, ?)",
                    ((secrets.token_hex(20), now, i) for i in ids))
    con.executemany(
        "INSERT INTO accounts_userprofile (user_id, phone, address, birth_date, profile_picture, bio, "
        "province_id, created_at, updated_at) VALUES (?, '555', '', NULL, '', '', NULL, ?, ?)",
        ((i, now, now) for i in ids))
con.close()
PY
echo "source: Django SQLite database with $n users (+1 admin); every tenth has a DRF token, a membership and a profile"

run() { # label, target URL
  local start end
  export DOORMAN_DATABASE__URL="$2" DOORMAN_SECURITY__SECRET_KEY=bench-import-key-0123456789abcdefghijklmnop DOORMAN_LOG__LEVEL=warn
  "$bin" migrate >/dev/null
  start=$(date +%s.%N)
  "$bin" import-django "sqlite://$src" >"$work/out.txt"
  end=$(date +%s.%N)
  echo "$1: first run $(python3 -c "print(f'{$end - $start:.1f}')") s"
  grep -E "^  (users|DRF tokens|group memberships|profiles) " "$work/out.txt"
  start=$(date +%s.%N)
  "$bin" import-django "sqlite://$src" >"$work/out.txt"
  end=$(date +%s.%N)
  grep -q "Nothing new to copy" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
  echo "$1: second run (nothing to copy) $(python3 -c "print(f'{$end - $start:.1f}')") s"
}
run "into SQLite" "sqlite://$work/target.sqlite3?mode=rwc"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pgdb" postgres
run "into PostgreSQL" "postgres://postgres@127.0.0.1:5432/$pgdb"
