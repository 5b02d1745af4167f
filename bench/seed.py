#!/usr/bin/env python3
"""Seed auth_user quickly for the benchmarks: one admin and N users.

Every row gets the same password hash, which the caller obtained by
registering one user through the API of the server under test (so it is a
real hash of that server's default hasher: Argon2id for doorman,
PBKDF2-SHA256 for Django). Rows are inserted directly into Django's
auth_user table, which doorman and Django share, so seeding 1,000 users
takes well under a second instead of 1,000 hash computations.

    seed.py sqlite PATH HASH [--users N]
    seed.py postgres DBNAME HASH [--users N]   (psql to 127.0.0.1:5432, user postgres)

Users are named user00001 … userNNNNN (e-mail userNNNNN@example.com); the
admin is `benchadmin` (superuser and staff).

Stdlib only: SQLite through the sqlite3 module, PostgreSQL through `psql`.
"""
import argparse
import datetime
import sqlite3
import subprocess

ADMIN = "benchadmin"


def username(i):
    return f"user{i:05d}"


def django_pbkdf2(password, iterations=1_000_000, salt="benchsaltbenchsalt12"):
    """A hash as Django's default PBKDF2PasswordHasher stores it."""
    import base64
    import hashlib
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def seed_sqlite(path, password_hash, users, first=1, admin=True):
    """Inserts user<first> … user<users> (and the admin unless admin=False)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [(password_hash, 1, ADMIN, "", "", f"{ADMIN}@example.com", 1, 1, now)] if admin else []
    con = sqlite3.connect(path, timeout=30)
    sql = ("INSERT INTO auth_user (password, last_login, is_superuser, username, "
           "first_name, last_name, email, is_staff, is_active, date_joined) "
           "VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)")
    try:
        with con:
            con.executemany(sql, rows)
            # A generator: a million rows are never all in memory at once.
            con.executemany(sql, (
                (password_hash, 0, username(i), "", "", f"{username(i)}@example.com", 0, 1, now)
                for i in range(first, users + 1)))
    finally:
        con.close()


def set_hash(kind, where, password_hash, first, last):
    """Gives user<first> … user<last> another stored hash (an imported Django one)."""
    names = [username(i) for i in range(first, last + 1)]
    if kind == "sqlite":
        con = sqlite3.connect(where, timeout=30)
        try:
            with con:
                con.executemany("UPDATE auth_user SET password = ? WHERE username = ?",
                                [(password_hash, n) for n in names])
        finally:
            con.close()
        return
    h = password_hash.replace("'", "''")
    psql(where, f"UPDATE auth_user SET password = '{h}' WHERE username IN ("
                + ",".join(f"'{n}'" for n in names) + ")")


def psql(dbname, sql):
    """Runs SQL on the local PostgreSQL and returns stdout (unaligned, no headers)."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dbname,
         "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout


def seed_postgres(dbname, password_hash, users, first=1, admin=True):
    h = password_hash.replace("'", "''")
    admin_sql = f"""
        INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,
                               last_name, email, is_staff, is_active, date_joined)
        VALUES ('{h}', NULL, true, '{ADMIN}', '', '', '{ADMIN}@example.com', true, true, now());
    """ if admin else ""
    psql(dbname, admin_sql + f"""
        INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,
                               last_name, email, is_staff, is_active, date_joined)
        SELECT '{h}', NULL, false, 'user' || lpad(i::text, greatest(5, length(i::text)), '0'), '', '',
               'user' || lpad(i::text, greatest(5, length(i::text)), '0') || '@example.com', false, true, now()
        FROM generate_series({int(first)}, {int(users)}) AS i;
        -- Fresh statistics, as autovacuum would gather within a minute of a
        -- bulk insert: plans PostgreSQL cached while the table was small
        -- (seq scans of auth_user) are dropped and made again.
        ANALYZE auth_user;
    """)


def drf_token(kind, where, user, key):
    """Gives `user` the DRF token `key` in Django's `authtoken_token` (made
    as DRF's migration makes it if missing): a database shared with Django."""
    u = user.replace("'", "''")
    if kind == "sqlite":
        con = sqlite3.connect(where, timeout=30)
        try:
            con.execute('CREATE TABLE IF NOT EXISTS "authtoken_token" ("key" varchar(40) NOT NULL PRIMARY KEY, '
                        '"user_id" integer NOT NULL UNIQUE REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, '
                        '"created" datetime NOT NULL)')
            con.execute("INSERT INTO authtoken_token (key, user_id, created) "
                        "SELECT ?, id, datetime('now') FROM auth_user WHERE username = ?", (key, user))
            con.commit()
        finally:
            con.close()
        return
    psql(where, f"""
        CREATE TABLE IF NOT EXISTS "authtoken_token" ("key" varchar(40) NOT NULL PRIMARY KEY,
            "user_id" integer NOT NULL UNIQUE REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED,
            "created" timestamp with time zone NOT NULL);
        INSERT INTO authtoken_token (key, user_id, created)
        SELECT '{key}', id, now() FROM auth_user WHERE username = '{u}';
    """)


def read_hash(kind, where, user):
    """The stored password column of `user` (registered through the API)."""
    if kind == "sqlite":
        con = sqlite3.connect(where, timeout=30)
        try:
            row = con.execute("SELECT password FROM auth_user WHERE username = ?", (user,)).fetchone()
        finally:
            con.close()
        if row is None:
            raise SystemExit(f"no user {user!r} in {where}")
        return row[0]
    u = user.replace("'", "''")
    value = psql(where, f"SELECT password FROM auth_user WHERE username = '{u}'").strip()
    if not value:
        raise SystemExit(f"no user {user!r} in database {where}")
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["sqlite", "postgres"])
    ap.add_argument("where", help="SQLite file or PostgreSQL database name")
    ap.add_argument("hash", help="Django-format password hash given to every row")
    ap.add_argument("--users", type=int, default=1000)
    a = ap.parse_args()
    (seed_sqlite if a.kind == "sqlite" else seed_postgres)(a.where, a.hash, a.users)
    print(f"seeded {a.users} users and {ADMIN} into {a.where}")


if __name__ == "__main__":
    main()
