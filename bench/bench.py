#!/usr/bin/env python3
"""Runs the doorman benchmarks; normally started by bench/run.sh (see README.md).

Systems: `bare` (examples/bare.rs, the axum/tokio ceiling), doorman on SQLite
and on PostgreSQL, Django + Djoser 2.3.5 under gunicorn on SQLite and on
PostgreSQL. Each system gets a fresh database, an admin and N seeded users
(bench/seed.py), then each scenario is driven by wrk over 127.0.0.1 while the
server's RSS and CPU time are sampled from /proc. Results go to
bench/results/<stamp>.json, a markdown table to stdout (and .md), and a bar
chart to bench/results/<stamp>.svg.

Stdlib only. Every server it starts is stopped when it exits.
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import plot
import seed

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
TARGET = os.environ.get("CARGO_TARGET_DIR", "/root/.cache/doorman-target")
VENV = os.environ.get("BENCH_VENV", "/tmp/bench-venv")
DJOSER_PROJECT = os.path.join(ROOT, "tests", "differential", "djoser_project")
SECRET = "bench-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "Bench-pass-2024!"
USER = seed.username(1)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# name, method, path, body kind, credential kind; only for systems that serve them.
SCENARIOS = [
    ("me_jwt", "GET", "/auth/users/me/", None, "user_jwt"),
    ("me_token", "GET", "/auth/users/me/", None, "user_token"),
    ("me_drf_token", "GET", "/auth/users/me/", None, "drf_token"),
    ("profile", "GET", "/api/auth/profile/", None, "user_jwt"),
    ("admin_users", "GET", "/api/auth/users/?page=1", None, "admin_jwt"),
    ("jwt_create", "POST", "/auth/jwt/create/", "login", None),
    ("token_login", "POST", "/auth/token/login/", "login", None),
    ("register", "POST", "/auth/users/", "register", None),
]
BARE_SCENARIO = ("bare_get", "GET", "/", None, None)
ACCOUNTS_API = {"profile", "admin_users"}
# Djoser's me_token already is a DRF token; this one is doorman reading a key
# from Django's authtoken_token in a shared database.
DOORMAN_ONLY = ACCOUNTS_API | {"me_drf_token"}
DRF_KEY = "d" * 40
# The database of the system being measured (kind, where), for credentials
# written straight into it.
DATABASE = {}

_live = []  # servers to stop at exit
_pg_dbs = []  # databases to drop at exit


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, argv, env, cwd, logfile):
        self.name = name
        self.log = open(logfile, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _live.append(self)

    def pids(self):
        """The server process and, for gunicorn, its workers (direct children)."""
        root = self.proc.pid
        out = [root]
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == root:
                out.append(int(d))
        return out

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        if self in _live:
            _live.remove(self)


def cleanup():
    for s in list(_live):
        try:
            s.stop()
        except Exception as e:  # keep stopping the others
            log(f"stopping {s.name}: {e}")
    for db in list(_pg_dbs):
        drop_pg(db)


def _on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def create_pg(name):
    seed.psql("postgres", f'DROP DATABASE IF EXISTS "{name}"')
    seed.psql("postgres", f'CREATE DATABASE "{name}"')
    _pg_dbs.append(name)


def drop_pg(name):
    try:
        seed.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except subprocess.CalledProcessError as e:
        log(f"could not drop {name}: {e.stderr}")
    if name in _pg_dbs:
        _pg_dbs.remove(name)


# ---------------------------------------------------------------- HTTP helpers

def http(method, url, body=None, headers=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_up(server, url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.proc.poll() is not None:
            raise SystemExit(f"{server.name} exited during start-up; see {server.log.name}")
        try:
            http("GET", url, timeout=2)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise SystemExit(f"{server.name} did not answer {url} within {timeout}s; see {server.log.name}")


def expect(status, body, ok, what):
    if status not in ok:
        raise SystemExit(f"{what}: HTTP {status}: {body[:300]!r}")
    return json.loads(body) if body else {}


def credential(base, kind):
    """A fresh Authorization header value (JWTs live 300 s, so one per scenario)."""
    if kind is None:
        return ""
    who = seed.ADMIN if kind == "admin_jwt" else USER
    if kind == "drf_token":
        if not DATABASE.get("drf_token"):
            seed.drf_token(DATABASE["kind"], DATABASE["where"], USER, DRF_KEY)
            DATABASE["drf_token"] = True
        return "Token " + DRF_KEY
    if kind == "user_token":
        s, b = http("POST", base + "/auth/token/login/", {"username": who, "password": PASSWORD})
        return "Token " + expect(s, b, (200,), "token login")["auth_token"]
    s, b = http("POST", base + "/auth/jwt/create/", {"username": who, "password": PASSWORD})
    return "Bearer " + expect(s, b, (200,), "jwt create")["access"]


# ---------------------------------------------------------------- measuring

def proc_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def proc_rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def parse_duration(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return None
    v = float(m.group(1))
    return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(out):
    r = {"requests": None, "rps": None, "p50_ms": None, "p90_ms": None, "p99_ms": None,
         "non_2xx": 0, "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
    m = re.search(r"(\d+) requests in", out)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            r[key] = parse_duration(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    if not r["requests"]:
        r["p50_ms"] = r["p90_ms"] = r["p99_ms"] = None
    return r


def wait_idle(server, limit=180):
    """Waits until the server stops burning CPU: requests wrk left in flight (or
    queued in the listen backlog) are still processed after wrk exits, and must
    not be counted against the next scenario."""
    t0 = time.monotonic()
    quiet = 0
    while time.monotonic() - t0 < limit:
        a = proc_ticks(server.pids())
        time.sleep(0.5)
        pct = 100.0 * (proc_ticks(server.pids()) - a) / CLK_TCK / 0.5
        quiet = quiet + 1 if pct < 5 else 0
        if quiet >= 2:
            return time.monotonic() - t0
    log(f"  {server.name} still busy after {limit}s")
    return time.monotonic() - t0


def wrk_command(base, scenario, args, connections=None, duration=None, extra_env=None):
    """The wrk argv and environment for one scenario."""
    _name, method, path, body_kind, cred = scenario
    env = dict(os.environ)
    env.update(BENCH_METHOD=method, BENCH_AUTH=credential(base, cred), BENCH_PASSWORD=PASSWORD,
               BENCH_TAG="".join(random.choices(string.ascii_lowercase, k=6)),
               BENCH_THREADS=str(args.threads),
               BENCH_REGISTER="1" if body_kind == "register" else "0",
               BENCH_BODY=json.dumps({"username": USER, "password": PASSWORD})
               if body_kind == "login" else "")
    env.update(extra_env or {})
    argv = ["wrk", f"-t{args.threads}", f"-c{connections or args.connections}",
            f"-d{duration or args.duration}s", f"--timeout={args.timeout}s", "--latency",
            "-s", os.path.join(BENCH, "wrk.lua"), base + path]
    return argv, env


def run_wrk(server, base, scenario, args, connections=None, extra_env=None, label=None,
            idle_first=True):
    name, method, path, _body_kind, _cred = scenario
    # The credential first (a login: one password hash), then the wait, so
    # that neither the login's work nor its memory is counted in the run.
    argv, env = wrk_command(base, scenario, args, connections, extra_env=extra_env)
    if idle_first:
        drained = wait_idle(server)
        if drained > 2:
            log(f"  waited {drained:.0f}s for {server.name} to finish earlier requests")
    name = label or name
    pids = server.pids()
    idle_rss = proc_rss_kib(pids)
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            samples.append(proc_rss_kib(server.pids()))

    t0_ticks, t0 = proc_ticks(pids), time.monotonic()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    stop.set()
    th.join()
    wall = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks = proc_ticks(server.pids()) - t0_ticks
    if out.returncode != 0:
        raise SystemExit(f"wrk failed for {name}: {out.stderr}")
    r = parse_wrk(out.stdout)
    r.update(
        scenario=name, method=method, path=path,
        rss_idle_mib=round(idle_rss / 1024, 1),
        rss_peak_mib=round(max(samples or [idle_rss]) / 1024, 1),
        rss_mean_mib=round(sum(samples) / len(samples) / 1024, 1) if samples else None,
        server_cpu_pct=round(100.0 * ticks / CLK_TCK / wall, 1),
        wrk_cpu_pct=round(100.0 * ((c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)) / wall, 1),
        server_processes=len(server.pids()),
        connections=connections or args.connections,
        wrk_output=out.stdout,
    )
    errs = r["non_2xx"] + sum(r["socket_errors"].values())
    log(f"  {name:12s} {r['rps'] or 0:10.1f} req/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
        f"errors {errs}  rss {r['rss_peak_mib']} MiB  cpu {r['server_cpu_pct']}%")
    return r


def run_during_logins(server, base, args):
    """`users/me/` with a JWT while `jwt/create/` is saturated by a second wrk:
    does hashing starve the requests that need no hash?"""
    wait_idle(server)
    login = ("jwt_create", "POST", "/auth/jwt/create/", "login", None)
    argv, env = wrk_command(base, login, args, connections=16, duration=args.duration + 6)
    background = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
    try:
        time.sleep(3)  # let the login queue fill
        r = run_wrk(server, base, SCENARIOS[0], args, label="me_jwt_during_logins",
                    idle_first=False)
    finally:
        out, _ = background.communicate(timeout=args.duration + 60)
    logins = parse_wrk(out)
    r["background_login_rps"] = logins["rps"]
    log(f"  (jwt_create in parallel, 16 connections: {logins['rps']} req/s)")
    return r


def run_pbkdf2_logins(server, base, args, kind, where):
    """Logins of users whose stored hash is Django's default (PBKDF2-SHA256,
    1,000,000 iterations), each user once: doorman verifies it, then rehashes
    to Argon2id, as a deployment taken over from Django does."""
    last = args.users
    if last < 200:
        return None
    seed.set_hash(kind, where, seed.django_pbkdf2(PASSWORD), 101, last)
    sc = ("jwt_create_pbkdf2", "POST", "/auth/jwt/create/", "rotate", None)
    return run_wrk(server, base, sc, args, extra_env={"BENCH_ROTATE": f"101:{last - 100}"})


def measure_startup(db_url, tmp, runs=5):
    """Milliseconds from starting `doorman serve` on an existing database until
    /readyz answers 200 (polled every millisecond)."""
    times = []
    for i in range(runs):
        port = free_port()
        env = dict(os.environ, DOORMAN_SECURITY__SECRET_KEY=SECRET,
                   DOORMAN_SERVER__LISTEN=f"127.0.0.1:{port}", DOORMAN_DATABASE__URL=db_url)
        t0 = time.monotonic()
        srv = Server(f"startup-{i}", [os.path.join(TARGET, "release", "doorman"), "serve"], env,
                     tmp, os.path.join(tmp, f"startup-{i}.log"))
        try:
            while time.monotonic() - t0 < 30:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                        c.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        if c.recv(64).startswith(b"HTTP/1.1 200"):
                            times.append((time.monotonic() - t0) * 1000)
                            break
                except OSError:
                    time.sleep(0.001)
        finally:
            srv.stop()
    times.sort()
    return {"runs": len(times), "median_ms": round(times[len(times) // 2], 1) if times else None,
            "min_ms": round(times[0], 1) if times else None,
            "max_ms": round(times[-1], 1) if times else None}


def hash_timing(runs=5):
    """Median of `runs` timings of ten hashes each: one timing on a shared
    machine varied by ±15 % from one run to the next."""
    env = dict(os.environ, DOORMAN_SECURITY__SECRET_KEY=SECRET)
    samples = []
    for _ in range(runs):
        out = subprocess.run([os.path.join(TARGET, "release", "doorman"), "hash-timing", "--count", "10"],
                             env=env, capture_output=True, text=True, check=True)
        samples.append(json.loads(out.stdout))
    samples.sort(key=lambda t: t["ms_per_hash"])
    t = dict(samples[len(samples) // 2])
    t["samples_ms"] = [round(x["ms_per_hash"], 2) for x in samples]
    t["cores"] = os.cpu_count()
    t["limit_rps"] = round(t["cores"] * 1000.0 / t["ms_per_hash"], 1)
    log(f"one Argon2id hash: {t['ms_per_hash']:.1f} ms (median of {runs}: {t['samples_ms']}) "
        f"-> hash-bound limit {t['limit_rps']} logins/s")
    return t


def big_label(n):
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


BIG_SCENARIOS = ("me_jwt", "profile", "jwt_create", "admin_users")


# ---------------------------------------------------------------- systems

def start_doorman(name, db_url, tmp):
    port = free_port()
    # The load comes from one address at tens of thousands of requests a
    # second; rate limits would answer most with 429 (Djoser has none).
    env = dict(os.environ, DOORMAN_SECURITY__SECRET_KEY=SECRET,
               DOORMAN_SERVER__LISTEN=f"127.0.0.1:{port}", DOORMAN_DATABASE__URL=db_url,
               DOORMAN_RATE_LIMIT__ENABLED="false")
    srv = Server(name, [os.path.join(TARGET, "release", "doorman"), "serve"], env, tmp,
                 os.path.join(tmp, f"{name}.log"))
    base = f"http://127.0.0.1:{port}"
    wait_up(srv, base + "/healthz")
    return srv, base


def djoser_env(tmp, sqlite_path, pg_db):
    env = dict(os.environ, DOORMAN_SECURITY__SECRET_KEY=SECRET,
               DJANGO_SETTINGS_MODULE="bench_settings",
               PYTHONPATH=os.pathsep.join([os.path.join(BENCH, "djoser"), DJOSER_PROJECT]),
               DIFF_DJOSER_DB=sqlite_path or os.path.join(tmp, "unused.sqlite3"),
               DIFF_DJOSER_MAIL_DIR=os.path.join(tmp, "mail"))
    env.pop("DIFF_DJOSER_FAST_HASHING", None)
    if pg_db:
        env["BENCH_DJOSER_PG_DB"] = pg_db
    return env


def start_djoser(name, tmp, sqlite_path, pg_db, workers):
    env = djoser_env(tmp, sqlite_path, pg_db)
    subprocess.run([os.path.join(VENV, "bin", "django-admin"), "migrate", "--noinput", "-v", "0"],
                   env=env, cwd=tmp, check=True)
    port = free_port()
    srv = Server(name, [os.path.join(VENV, "bin", "gunicorn"), "--workers", str(workers),
                        "--bind", f"127.0.0.1:{port}", "wsgi:application"],
                 env, tmp, os.path.join(tmp, f"{name}.log"))
    base = f"http://127.0.0.1:{port}"
    wait_up(srv, base + "/auth/users/me/")
    return srv, base


def seed_system(base, kind, where, users):
    """Registers one user through the API, copies its hash to admin + N seeded users."""
    s, b = http("POST", base + "/auth/users/",
                {"username": "hashsource", "email": "hashsource@example.com", "password": PASSWORD})
    expect(s, b, (201,), "registering hashsource")
    password_hash = seed.read_hash(kind, where, "hashsource")
    t = time.monotonic()
    (seed.seed_sqlite if kind == "sqlite" else seed.seed_postgres)(where, password_hash, users)
    log(f"  seeded {users} users + {seed.ADMIN} in {time.monotonic() - t:.2f}s "
        f"(hash {password_hash.split('$')[0]}${password_hash.split('$')[1]}…)")
    return password_hash.rsplit("$", 2)[0] if password_hash.startswith("pbkdf2") \
        else "$".join(password_hash.split("$")[:4])


def run_system(system, args, tmp):
    """Starts one system, seeds it, runs its scenarios, stops it; returns its results."""
    kind, backend = system.split("-") if "-" in system else (system, None)
    stamp = f"bench_{os.getpid()}_{system.replace('-', '_')}"
    log(f"{system}: starting")
    hasher = None
    if kind == "bare":
        port = free_port()
        srv = Server(system, [os.path.join(TARGET, "release", "examples", "bare"), str(port)],
                     dict(os.environ), tmp, os.path.join(tmp, "bare.log"))
        base = f"http://127.0.0.1:{port}"
        wait_up(srv, base + "/")
        scenarios = [BARE_SCENARIO]
    else:
        if backend == "sqlite":
            where = os.path.join(tmp, f"{stamp}.sqlite3")
        else:
            where = stamp
            create_pg(where)
        if kind == "doorman":
            url = f"sqlite://{where}" if backend == "sqlite" else f"postgres://postgres@127.0.0.1:5432/{where}"
            srv, base = start_doorman(system, url, tmp)
            scenarios = SCENARIOS
        else:
            srv, base = start_djoser(system, tmp, where if backend == "sqlite" else None,
                                     None if backend == "sqlite" else where, args.workers)
            scenarios = [s for s in SCENARIOS if s[0] not in DOORMAN_ONLY]
        hasher = seed_system(base, backend if backend == "sqlite" else "postgres", where, args.users)
        DATABASE.clear()
        DATABASE.update(kind=backend if backend == "sqlite" else "postgres", where=where)
    def wanted(name):
        return not args.only or name in args.only

    startup = None
    try:
        results = []
        for sc in scenarios:
            if wanted(sc[0]):
                results.append(run_wrk(srv, base, sc, args))
        if kind == "djoser" and wanted("me_jwt"):
            # Djoser at other concurrencies, to compare with its best.
            for c in sorted({args.workers, 16} - {args.connections}):
                results.append(run_wrk(srv, base, SCENARIOS[0], args, connections=c,
                                       label=f"me_jwt_c{c}"))
        if kind != "bare" and wanted("me_jwt_during_logins"):
            results.append(run_during_logins(srv, base, args))
        if kind == "doorman" and wanted("jwt_create_pbkdf2"):
            r = run_pbkdf2_logins(srv, base, args, backend if backend == "sqlite" else "postgres",
                                  where)
            if r:
                results.append(r)
        if kind == "doorman" and args.big_users > args.users:
            t = time.monotonic()
            (seed.seed_sqlite if backend == "sqlite" else seed.seed_postgres)(
                where, seed.read_hash(backend, where, USER), args.big_users,
                first=args.users + 1, admin=False)
            log(f"  seeded up to {args.big_users} users in {time.monotonic() - t:.1f}s")
            for sc in scenarios:
                if sc[0] in BIG_SCENARIOS and wanted(sc[0]):
                    r = run_wrk(srv, base, sc, args,
                                label=f"{sc[0]}@{big_label(args.big_users)}")
                    r["users"] = args.big_users
                    results.append(r)
    finally:
        srv.stop()
        if backend == "sqlite" and kind == "doorman" and args.startup_runs:
            startup = measure_startup(f"sqlite://{where}", tmp, args.startup_runs)
            log(f"  start to ready on the existing database: {startup}")
        if backend == "postgres":
            drop_pg(where)
    return {"system": system, "hasher": hasher, "results": results, "startup": startup}


# ---------------------------------------------------------------- report

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    wrk_v = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_mib": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": (wrk_v.stdout or wrk_v.stderr).splitlines()[0] if (wrk_v.stdout or wrk_v.stderr) else "?"}


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def markdown(report):
    lines = ["| System | Scenario | req/s | p50 ms | p99 ms | errors | RSS peak MiB | server CPU % |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for sysres in report["systems"]:
        for r in sysres["results"]:
            errs = r["non_2xx"] + sum(r["socket_errors"].values())
            err = str(errs)
            if errs:
                parts = []
                if r["non_2xx"]:
                    parts.append(f"{r['non_2xx']} non-2xx")
                if r["socket_errors"]["timeout"]:
                    parts.append(f"{r['socket_errors']['timeout']} timeouts")
                other = sum(r["socket_errors"].values()) - r["socket_errors"]["timeout"]
                if other:
                    parts.append(f"{other} socket")
                err = ", ".join(parts)
            lines.append(f"| {sysres['system']} | {r['scenario']} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} "
                         f"| {fmt(r['p99_ms'], 2)} | {err} | {fmt(r['rss_peak_mib'])} | {fmt(r['server_cpu_pct'], 0)} |")
    return "\n".join(lines)


def args_connections(report):
    return report.get("settings", {}).get("connections", "?")


def goals(report):
    """Issue 7's targets, checked against this run's figures."""
    rows = {(s["system"], r["scenario"]): r for s in report["systems"] for r in s["results"]}
    out = []

    def rps(system, scenario):
        r = rows.get((system, scenario))
        return r["rps"] if r and r["rps"] else None

    bare = rps("bare", "bare_get")
    djoser_me = [r for (sy, sc), r in rows.items()
                 if sy.startswith("djoser") and (sc == "me_jwt" or sc.startswith("me_jwt_c")) and r["rps"]]
    best = max(djoser_me, key=lambda r: r["rps"]) if djoser_me else None
    bare_row = rows.get(("bare", "bare_get"))
    if best and bare_row and bare_row["rps"]:
        # What no server on this machine can beat: the bare handler.
        ceiling = [f"ceiling: bare {bare_row['rps']:,.0f} req/s = {bare_row['rps'] / best['rps']:.0f}× Djoser's best"]
        if bare_row["p99_ms"] and best["p99_ms"]:
            ceiling.append(f"bare p99 {fmt(bare_row['p99_ms'], 2)} ms at {args_connections(report)} connections "
                           f"= 1/{best['p99_ms'] / bare_row['p99_ms']:.1f} of Djoser's")
        out.append("; ".join(ceiling))
    for system in ("doorman-sqlite", "doorman-postgres"):
        me = rows.get((system, "me_jwt"))
        if not me or not me["rps"]:
            continue
        parts = [f"{system} me_jwt {me['rps']:,.0f} req/s, p99 {fmt(me['p99_ms'], 2)} ms"]
        if best:
            parts.append(f"{me['rps'] / best['rps']:.0f}× Djoser's best ({best['rps']:,.0f} req/s at "
                         f"{best.get('connections', '?')} connections; goal ≥ 100×)")
            if me["p99_ms"] and best["p99_ms"]:
                parts.append(f"p99 1/{best['p99_ms'] / me['p99_ms']:.0f} of Djoser's (goal ≤ 1/20)")
        if bare:
            parts.append(f"{100 * me['rps'] / bare:.0f}% of bare (goal ≥ 60%)")
        out.append("; ".join(parts))
        djoser_rss = [r["rss_peak_mib"] for (sy, sc), r in rows.items()
                      if sy == system.replace("doorman", "djoser") and sc == "me_jwt"]
        if djoser_rss and me["rss_peak_mib"]:
            out.append(f"{system} RSS under me_jwt load {me['rss_peak_mib']} MiB vs gunicorn's "
                       f"{djoser_rss[0]} MiB: 1/{djoser_rss[0] / me['rss_peak_mib']:.1f} (goal ≤ 1/10)")
    t = report.get("hash_timing")
    if t:
        for system in ("doorman-sqlite", "doorman-postgres"):
            v = rps(system, "jwt_create")
            if v:
                out.append(f"{system} jwt_create {v:.1f} req/s = {100 * v / t['limit_rps']:.0f}% of the "
                           f"hash-bound limit {t['limit_rps']} ({t['cores']} cores ÷ {t['ms_per_hash']:.1f} ms "
                           f"per Argon2id hash, m={t['memory_kib']} KiB t={t['iterations']} p={t['parallelism']}; "
                           "goal ≥ 90%)")
    for system in ("doorman-sqlite", "doorman-postgres"):
        v = rps(system, "jwt_create_pbkdf2")
        dj = [rps(s, "jwt_create") for s in ("djoser-sqlite", "djoser-postgres")]
        dj = [x for x in dj if x]
        if v and dj:
            out.append(f"{system} login with an imported PBKDF2 (1,000,000 iterations) hash, then rehash: "
                       f"{v:.2f} req/s vs Djoser's jwt_create (same hash) {max(dj):.2f} req/s")
        during = rows.get((system, "me_jwt_during_logins"))
        if during and during["p99_ms"] is not None:
            out.append(f"{system} me_jwt while jwt_create is saturated: p99 {fmt(during['p99_ms'], 2)} ms "
                       f"({during['rps']:,.0f} req/s; goal p99 < 10 ms)")
        for name in BIG_SCENARIOS:
            small = rows.get((system, name))
            big = next((r for (sy, sc), r in rows.items() if sy == system and sc.startswith(name + "@")), None)
            if small and big and small["p50_ms"] and big["p50_ms"]:
                out.append(f"{system} {name} with {big['users']:,} users: p50 {fmt(big['p50_ms'], 2)} ms, "
                           f"{big['rps']:,.0f} req/s vs {fmt(small['p50_ms'], 2)} ms, {small['rps']:,.0f} req/s "
                           f"with {report['settings']['users']:,} ({100 * (big['p50_ms'] / small['p50_ms'] - 1):+.0f}% "
                           "p50; goal within 20%)")
    for s in report["systems"]:
        if s.get("startup"):
            st = s["startup"]
            out.append(f"{s['system']} start to ready (/readyz 200) on its existing database: median "
                       f"{st['median_ms']} ms over {st['runs']} starts (min {st['min_ms']}, max {st['max_ms']}; "
                       "goal < 100 ms)")
    return out


def main():
    ap = argparse.ArgumentParser(description="doorman benchmarks (see bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="5 s per scenario instead of 10 s")
    ap.add_argument("--duration", type=int, help="seconds per scenario")
    ap.add_argument("--users", type=int, default=1000, help="seeded users (default 1000)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=30, help="wrk per-request timeout, seconds")
    ap.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                    help="gunicorn workers (default 2×cores+1)")
    ap.add_argument("--systems", default="bare,doorman-sqlite,doorman-postgres,djoser-sqlite,djoser-postgres",
                    help="comma-separated subset of bare, doorman-sqlite, doorman-postgres, "
                         "djoser-sqlite, djoser-postgres")
    ap.add_argument("--only", help="comma-separated scenario names to run")
    ap.add_argument("--big-users", type=int, default=1_000_000,
                    help="after the first round, seed doorman up to this many users and run "
                         f"{', '.join(BIG_SCENARIOS)} again (0: skip)")
    ap.add_argument("--startup-runs", type=int, default=5,
                    help="times doorman is restarted on its SQLite database to time start-up")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"))
    ap.add_argument("--command", default=" ".join(sys.argv), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.duration = args.duration or (5 if args.quick else 10)
    args.only = set(args.only.split(",")) if args.only else None

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    started = datetime.datetime.now()
    report = {"date": started.isoformat(timespec="seconds"), "command": args.command,
              "machine": machine(),
              "settings": {"duration_s": args.duration, "connections": args.connections,
                           "threads": args.threads, "wrk_timeout_s": args.timeout,
                           "users": args.users, "gunicorn_workers": args.workers,
                           "load": "wrk on the same machine over 127.0.0.1 (shares the CPUs)"},
              "systems": []}
    tmp = tempfile.mkdtemp(prefix="doorman-bench-")
    if "doorman" in args.systems:
        report["hash_timing"] = hash_timing()
    try:
        for system in args.systems.split(","):
            system = system.strip()
            if system not in ("bare", "doorman-sqlite", "doorman-postgres", "djoser-sqlite", "djoser-postgres"):
                raise SystemExit(f"unknown system {system!r}")
            report["systems"].append(run_system(system, args, tmp))
    finally:
        cleanup()
    report["elapsed_s"] = round((datetime.datetime.now() - started).total_seconds())
    os.makedirs(args.out, exist_ok=True)
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    base = os.path.join(args.out, stamp)
    with open(base + ".json", "w") as f:
        json.dump(report, f, indent=2)
    table = markdown(report)
    m = report["machine"]
    header = (f"{report['date']}, {m['nproc']} × {m['cpu_model']}, {m['mem_mib']} MiB, "
              f"`{report['command']}`, {args.duration} s per scenario, {args.connections} connections, "
              f"{args.threads} wrk threads, {args.users} users, elapsed {report['elapsed_s']} s")
    table += "\n\n" + "\n".join(f"- {line}" for line in goals(report))
    with open(base + ".md", "w") as f:
        f.write(header + "\n\n" + table + "\n")
    with open(base + ".svg", "w") as f:
        f.write(plot.svg(report))
    shutil.rmtree(tmp, ignore_errors=True)
    print(header + "\n\n" + table)
    print(f"\nwrote {base}.json, {base}.md, {base}.svg")


if __name__ == "__main__":
    main()
