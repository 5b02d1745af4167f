"""Machinery of the differential tests: servers, HTTP, e-mail, setup steps,
normalisation and comparison. Standard library only, so it runs under any
Python 3.10+; the Django servers run under the interpreter of the venv that
has requirements.txt installed (default /tmp/diffenv/bin/python).

Scenarios (the data) live in scenarios.py, the command line in run.py.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import fnmatch
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
DJANGO_PROJECT = HERE / "djoser_project"
PREFIX = "/auth/"
HOST = "127.0.0.1"  # the only address this harness ever talks to

REQUEST_TIMEOUT = 60.0  # seconds per HTTP request (debug builds hash slowly)
MAIL_TIMEOUT = 5.0  # how long to wait for an expected e-mail
MAIL_GRACE = 0.6  # how long to wait when no e-mail is expected
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "retry-after")
RECORDED_HEADERS = COMPARED_HEADERS + ("location",)


class HarnessError(Exception):
    """A problem with the harness or a server, not a behavioural difference."""


class SetupFailed(Exception):
    """A setup step did not get the answer it needs."""


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

MISSING = object()


class Var:
    """A placeholder that resolves to the raw (typed) value of a context
    variable, e.g. Var("alice.id") -> 7 (an int, not "7")."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"Var({self.name!r})"


@dataclass
class Req:
    """One HTTP request. `path` is relative to /auth/ unless it starts with
    "/". Strings may contain {{name.attr}} references to context variables.
    Exactly one of json/form/multipart/raw may be given."""

    method: str
    path: str
    json: Any = MISSING
    form: dict | None = None
    multipart: dict | None = None
    raw: bytes | str | None = None
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    save: dict | None = None  # context variable -> top-level key of the JSON answer

    def describe(self) -> dict:
        """The request as recorded in the capture (templates unresolved)."""
        out: dict = {"method": self.method, "path": self.full_path()}
        if self.headers:
            out["headers"] = {
                k: (v.decode("latin-1") if isinstance(v, bytes) else v)
                for k, v in self.headers.items()
            }
        if self.json is not MISSING:
            out["json"] = _describe_value(self.json)
        if self.form is not None:
            out["form"] = _describe_value(self.form)
        if self.multipart is not None:
            out["multipart"] = _describe_value(self.multipart)
        if self.raw is not None:
            raw = self.raw if isinstance(self.raw, str) else self.raw.decode("latin-1")
            out["raw"] = raw
        if self.content_type is not None:
            out["content_type"] = self.content_type
        if self.save:
            out["save"] = self.save
        return out

    def full_path(self) -> str:
        return self.path if self.path.startswith("/") else PREFIX + self.path


def _describe_value(value):
    if isinstance(value, Var):
        return "{{%s}}" % value.name + " (raw)"
    if isinstance(value, dict):
        return {k: _describe_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_describe_value(v) for v in value]
    return value


TEMPLATE = re.compile(r"\{\{([\w.\-]+)\}\}")


def resolve(value, variables: dict):
    """Substitute {{name}} references and Var objects, recursively."""
    if isinstance(value, Var):
        if value.name not in variables:
            raise SetupFailed(f"variable {value.name} is not set")
        return variables[value.name]
    if isinstance(value, str):
        whole = TEMPLATE.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name not in variables:
                raise SetupFailed(f"variable {name} is not set")
            got = variables[name]
            return got if isinstance(got, str) else str(got)

        def sub(m):
            if m.group(1) not in variables:
                raise SetupFailed(f"variable {m.group(1)} is not set")
            return str(variables[m.group(1)])

        return TEMPLATE.sub(sub, value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return {resolve(k, variables): resolve(v, variables) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, variables) for v in value]
    return value


@dataclass
class Response:
    status: int
    headers: dict  # lower-case name -> value, only RECORDED_HEADERS
    body: bytes
    elapsed: float

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return MISSING


def _encode_body(req: Req, variables: dict) -> tuple[bytes | None, str | None]:
    if req.json is not MISSING:
        body = json.dumps(resolve(req.json, variables), ensure_ascii=False).encode()
        return body, req.content_type or "application/json"
    if req.form is not None:
        form = resolve(req.form, variables)
        return urllib.parse.urlencode(form, doseq=True).encode(), (
            req.content_type or "application/x-www-form-urlencoded"
        )
    if req.multipart is not None:
        boundary = "diffharnessboundary7MA4YWxkTrZu0gW"
        parts = []
        for k, v in resolve(req.multipart, variables).items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            )
        parts.append(f"--{boundary}--\r\n")
        return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"
    if req.raw is not None:
        raw = resolve(req.raw, variables)
        return (raw.encode() if isinstance(raw, str) else raw), req.content_type
    return None, req.content_type


def send(port: int, req: Req, variables: dict) -> Response:
    """Send one request to 127.0.0.1:port, never following redirects."""
    path = resolve(req.full_path(), variables)
    body, ctype = _encode_body(req, variables)
    headers = resolve(req.headers, variables)
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    started = time.monotonic()
    try:
        conn.putrequest(req.method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{HOST}:{port}")
        names = {k.lower() for k in headers}
        if "accept" not in names:
            conn.putheader("Accept", "*/*")
        if ctype is not None and "content-type" not in names:
            conn.putheader("Content-Type", ctype)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None or req.method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        got = {}
        for name in RECORDED_HEADERS:
            values = resp.headers.get_all(name)
            if values:
                got[name] = ", ".join(values)
        return Response(resp.status, got, data, time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        raise HarnessError(f"{req.method} {path} on port {port}: {exc!r}") from exc
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------

LINK_PATTERNS = {
    "activation": re.compile(r"#/activate/([A-Za-z0-9_\-]+)/([A-Za-z0-9\-]+)"),
    "password_reset": re.compile(
        r"#/password/reset/confirm/([A-Za-z0-9_\-]+)/([A-Za-z0-9\-]+)"
    ),
    "username_reset": re.compile(
        r"#/username/reset/confirm/([A-Za-z0-9_\-]+)/([A-Za-z0-9\-]+)"
    ),
}


@dataclass
class Mail:
    file: str
    order: tuple  # for sorting: (file mtime, file name, index in file)
    to: list
    subject: str
    text: str
    html: str
    kind: str
    uid: str | None
    token: str | None

    @property
    def key(self) -> tuple:
        """Identity of a message. Django's file backend may append a second
        message to an existing file (same second, same object id), so the
        file's mtime is not part of it."""
        return (self.file, self.order[-1])


def _classify(subject: str, text: str, html: str) -> tuple[str, str | None, str | None]:
    for kind, pattern in LINK_PATTERNS.items():
        for body in (text, html):
            m = pattern.search(body)
            if m:
                return kind, m.group(1), m.group(2)
    words = (subject + " " + text).lower()
    if "password" in words and "changed" in words:
        return "password_changed", None, None
    if "username" in words and "changed" in words:
        return "username_changed", None, None
    if any(w in words for w in ("activated", "created", "ready")):
        return "confirmation", None, None
    return "other", None, None


def parse_mail_bytes(data: bytes, file: str, order: tuple) -> list[Mail]:
    """Parse one mail file: Django's file backend appends messages to a .log
    file separated by a line of 79 dashes; doorman writes one .eml each."""
    chunks = re.split(rb"\r?\n-{79}\r?\n", data)
    mails = []
    for n, chunk in enumerate(chunks):
        if not chunk.strip():
            continue
        msg = email.message_from_bytes(chunk, policy=email.policy.default)
        to = [a.lower() for _, a in email.utils.getaddresses(msg.get_all("To", []))]
        subject = str(msg.get("Subject", "")).strip()
        text = html = ""
        plain = msg.get_body(preferencelist=("plain",))
        if plain is not None:
            text = plain.get_content()
        rich = msg.get_body(preferencelist=("html",))
        if rich is not None:
            html = rich.get_content()
        kind, uid, token = _classify(subject, text, html)
        mails.append(Mail(file, order + (n,), to, subject, text, html, kind, uid, token))
    return mails


class Mailbox:
    """The mail directory of one server."""

    def __init__(self, directory: Path):
        self.dir = directory
        self._cache: dict[str, tuple[tuple, list[Mail]]] = {}

    def all(self) -> list[Mail]:
        out = []
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if not entry.name.endswith((".log", ".eml")):
                continue
            st = entry.stat()
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(entry.name)
            if cached is None or cached[0] != key:
                try:
                    data = Path(entry.path).read_bytes()
                except FileNotFoundError:
                    continue
                cached = (key, parse_mail_bytes(data, entry.name, (st.st_mtime_ns, entry.name)))
                self._cache[entry.name] = cached
            out.extend(cached[1])
        out.sort(key=lambda m: m.order)
        return out

    def wait(self, predicate: Callable[[Mail], bool], timeout: float) -> Mail | None:
        """The newest mail satisfying predicate, polling up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.all() if predicate(m)]
            if found:
                return found[-1]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


# ---------------------------------------------------------------------------
# JWTs minted by the harness (the secret key is shared by both servers)
# ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(secret: str, claims: dict) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(sig)}"


def uid_for(user_id) -> str:
    return _b64url(str(user_id).encode())


# ---------------------------------------------------------------------------
# Scenarios, their context and setup steps
# ---------------------------------------------------------------------------


@dataclass
class Scenario:
    """setup: Steps run first (not compared); steps: the compared requests,
    run in order; mail: also compare which e-mails the steps caused."""

    name: str
    profile: str
    steps: list
    setup: list = field(default_factory=list)
    mail: bool = False
    doc: str = ""


DEFAULT_PASSWORD = "Kx9#mQ2$vL7!pR4w"


class Ctx:
    """Per-scenario, per-server state: variables and the values that must be
    replaced by placeholders when responses are normalised."""

    def __init__(self, scenario, target: "Target"):
        self.scenario = scenario
        self.target = target
        self.tag = hashlib.sha1(scenario.name.encode()).hexdigest()[:6]
        self.vars: dict[str, Any] = {"tag": self.tag, "tagnum": int(self.tag, 16) + 10**8}
        self.volatile: dict[str, str] = {}  # value -> placeholder
        self.ids: dict[int, str] = {}
        self.consumed: set = set()

    def username(self, who: str) -> str:
        return f"{who}_{self.tag}"

    def email(self, who: str) -> str:
        return f"{who}_{self.tag}@example.com"

    def set(self, name: str, value, volatile: bool = False):
        self.vars[name] = value
        if volatile and isinstance(value, str) and value:
            self.volatile[value] = f"<{name}>"

    def call(self, req: Req) -> Response:
        return self.target.send(req, self.vars)

    @property
    def flags(self) -> dict:
        return self.target.profile_flags


class Step:
    """A setup step: run(ctx) may raise SetupFailed."""

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self, ctx: Ctx) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _expect(ctx: Ctx, what: str, resp: Response, statuses) -> None:
    if statuses is None:
        return
    if isinstance(statuses, int):
        statuses = (statuses,)
    if resp.status not in statuses:
        raise SetupFailed(
            f"{what}: expected {'/'.join(map(str, statuses))}, got {resp.status} "
            f"{resp.body[:300]!r}"
        )


class User(Step):
    """Register `who` through POST users/ (and activate it through the e-mailed
    link when the profile sends activation e-mails and active=True).
    Sets who.username, who.email, who.password, who.id, who.uid."""

    def __init__(self, who, *, active=True, email=None, username=None, password=None,
                 expect=201):
        self.who, self.active, self.expect = who, active, expect
        self.email_t, self.username_t, self.password = email, username, password

    def describe(self):
        extra = []
        if self.email_t:
            extra.append(f"email={self.email_t}")
        if self.username_t:
            extra.append(f"username={self.username_t}")
        if not self.active:
            extra.append("not activated")
        return f"register user {self.who}" + (f" ({', '.join(extra)})" if extra else "")

    def run(self, ctx):
        w = self.who
        username = resolve(self.username_t, ctx.vars) if self.username_t else ctx.username(w)
        addr = resolve(self.email_t, ctx.vars) if self.email_t is not None else ctx.email(w)
        password = self.password or DEFAULT_PASSWORD
        ctx.set(f"{w}.username", username)
        ctx.set(f"{w}.email", addr)
        ctx.set(f"{w}.password", password)
        body = {"username": username, "email": addr, "password": password}
        if ctx.flags.get("USER_CREATE_PASSWORD_RETYPE"):
            body["re_password"] = password
        resp = ctx.call(Req("POST", "users/", json=body))
        _expect(ctx, f"register {w}", resp, self.expect)
        if resp.status != 201:
            return
        user_id = resp.json()["id"]
        ctx.set(f"{w}.id", user_id)
        ctx.ids[user_id] = f"<{w}.id>"
        ctx.set(f"{w}.uid", uid_for(user_id), volatile=True)
        # Wait for the e-mail registration causes, so that a slow (async)
        # delivery is not mistaken for an e-mail of the compared steps.
        if not addr:
            return
        if ctx.flags.get("SEND_ACTIVATION_EMAIL"):
            mail = wait_link(ctx, addr, "activation", consume=self.active)
            if self.active:
                resp = ctx.call(Req("POST", "users/activation/",
                                    json={"uid": mail.uid, "token": mail.token}))
                _expect(ctx, f"activate {w}", resp, 204)
                if ctx.flags.get("SEND_CONFIRMATION_EMAIL"):
                    wait_link(ctx, addr, "confirmation")
        elif ctx.flags.get("SEND_CONFIRMATION_EMAIL"):
            wait_link(ctx, addr, "confirmation")


def wait_link(ctx: Ctx, addr: str, kind: str, timeout: float = MAIL_TIMEOUT,
              consume: bool = True) -> Mail:
    """The newest not yet used e-mail of `kind` to addr (polling: doorman
    delivers asynchronously)."""
    addr = addr.lower()
    mail = ctx.target.mailbox.wait(
        lambda m: addr in m.to and m.kind == kind and m.key not in ctx.consumed,
        timeout,
    )
    if mail is None:
        raise SetupFailed(f"no {kind} e-mail for {addr} within {timeout}s")
    if consume:
        ctx.consumed.add(mail.key)
    return mail


class MailLink(Step):
    """Wait for the newest unused e-mail of `kind` to who.email and store its
    link parts as who.<name>.uid / who.<name>.token (name defaults to kind)."""

    def __init__(self, who, kind, name=None):
        self.who, self.kind, self.name = who, kind, name or kind

    def describe(self):
        return f"read the {self.kind} link e-mailed to {self.who}"

    def run(self, ctx):
        mail = wait_link(ctx, ctx.vars[f"{self.who}.email"], self.kind)
        ctx.set(f"{self.who}.{self.name}.uid", mail.uid, volatile=True)
        ctx.set(f"{self.who}.{self.name}.token", mail.token, volatile=True)


class Login(Step):
    """token/login as `who`; sets who.token."""

    def __init__(self, who, name="token"):
        self.who, self.name = who, name

    def describe(self):
        return f"token/login as {self.who}"

    def run(self, ctx):
        w = self.who
        resp = ctx.call(Req("POST", "token/login/", json={
            "username": ctx.vars[f"{w}.username"], "password": ctx.vars[f"{w}.password"]}))
        _expect(ctx, f"token/login {w}", resp, 200)
        ctx.set(f"{w}.{self.name}", resp.json()["auth_token"], volatile=True)


class Jwt(Step):
    """jwt/create as `who`; sets who.access and who.refresh."""

    def __init__(self, who):
        self.who = who

    def describe(self):
        return f"jwt/create as {self.who}"

    def run(self, ctx):
        w = self.who
        resp = ctx.call(Req("POST", "jwt/create/", json={
            "username": ctx.vars[f"{w}.username"], "password": ctx.vars[f"{w}.password"]}))
        _expect(ctx, f"jwt/create {w}", resp, 200)
        body = resp.json()
        ctx.set(f"{w}.access", body["access"], volatile=True)
        ctx.set(f"{w}.refresh", body["refresh"], volatile=True)


class Admin(Step):
    """The superuser created when the server started, logged in by token."""

    def describe(self):
        return "log in as the superuser (admin)"

    def run(self, ctx):
        su = ctx.target.superuser
        if su is None:
            raise SetupFailed("no superuser on this server")
        ctx.set("admin.username", su["username"])
        ctx.set("admin.password", su["password"])
        ctx.set("admin.email", su["email"])
        Login("admin").run(ctx)
        resp = ctx.call(Req("GET", "users/me/", headers={"Authorization": "Token {{admin.token}}"}))
        _expect(ctx, "admin users/me", resp, 200)
        ctx.set("admin.id", resp.json()["id"])
        ctx.ids[resp.json()["id"]] = "<admin.id>"


class Call(Step):
    """Any request, with an optional expected status (None: accept anything)."""

    def __init__(self, req: Req, expect=None, why=""):
        self.req, self.expect, self.why = req, expect, why

    def describe(self):
        d = f"{self.req.method} {self.req.full_path()}"
        if self.req.json is not MISSING:
            d += " " + json.dumps(_describe_value(self.req.json))
        if self.why:
            d += f" ({self.why})"
        return d

    def run(self, ctx):
        resp = ctx.call(self.req)
        _expect(ctx, self.describe(), resp, self.expect)


class Mint(Step):
    """A JWT signed with the shared secret (or `secret`), stored as `name`.
    user: whose id goes into user_id (a context name, or a literal via
    user_id=); exp: seconds from now; omit: claims to leave out."""

    def __init__(self, name, *, user=None, user_id=None, token_type="access", exp=300,
                 omit=(), secret=None, extra=None):
        self.name, self.user, self.user_id, self.token_type = name, user, user_id, token_type
        self.exp, self.omit, self.secret, self.extra = exp, omit, secret, extra or {}

    def describe(self):
        bits = [f"type={self.token_type}", f"exp={'+' if self.exp >= 0 else ''}{self.exp}s"]
        if self.user:
            bits.append(f"user={self.user}")
        if self.user_id is not None:
            bits.append(f"user_id={self.user_id!r}")
        if self.omit:
            bits.append("without " + ",".join(self.omit))
        if self.secret:
            bits.append("wrong key")
        return f"mint JWT {self.name} ({', '.join(bits)})"

    def run(self, ctx):
        now = int(time.time())
        claims = {
            "token_type": self.token_type,
            "exp": now + self.exp,
            "iat": now - 10,
            "jti": hashlib.sha1(f"{self.name}{now}{time.monotonic()}".encode()).hexdigest(),
            "user_id": str(ctx.vars[f"{self.user}.id"]) if self.user else self.user_id,
        }
        claims.update(resolve(self.extra, ctx.vars))
        for k in self.omit:
            claims.pop(k, None)
        if claims.get("user_id") is None:
            claims.pop("user_id", None)
        ctx.set(self.name, mint_jwt(self.secret or ctx.target.secret_key, claims), volatile=True)


class SetVar(Step):
    def __init__(self, name, value):
        self.name, self.value = name, value

    def describe(self):
        return f"set {self.name} = {self.value!r}"

    def run(self, ctx):
        ctx.set(self.name, resolve(self.value, ctx.vars))


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

_RUNNING: list["ManagedProcess"] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ManagedProcess:
    """A child process in its own process group, always stopped by stop()."""

    def __init__(self, name, argv, env, cwd, log_path: Path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        _RUNNING.append(self)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=grace)
        self.log.close()
        if self in _RUNNING:
            _RUNNING.remove(self)

    def tail(self, n=30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])


def stop_all() -> None:
    for p in list(_RUNNING):
        try:
            p.stop()
        except Exception as exc:  # keep stopping the others
            print(f"warning: stopping {p.name}: {exc}", file=sys.stderr)


def _run_checked(argv, env, cwd, timeout, what) -> str:
    try:
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{what}: timed out after {timeout}s") from exc
    if done.returncode != 0:
        raise HarnessError(f"{what}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def profile_env(flags: dict) -> dict:
    return {f"DOORMAN_DJOSER__{k}": ("true" if v else "false") for k, v in flags.items()}


COMMON_ENV = {
    "DOORMAN_DJOSER__DOMAIN": "frontend.example",
    "DOORMAN_DJOSER__SITE_NAME": "Doorman Diff",
    "DOORMAN_DJOSER__PROTOCOL": "http",
}

SUPERUSER = {"username": "root", "email": "root@example.com", "password": "Adm1n-Pass-Word!x"}


class Target:
    """A running server under test (djoser or doorman)."""

    kind = "?"

    def __init__(self, workdir: Path, secret_key: str, profile: str, flags: dict):
        self.workdir = workdir
        self.secret_key = secret_key
        self.profile = profile
        self.profile_flags = flags
        self.port = free_port()
        self.mail_dir = workdir / "mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.mailbox = Mailbox(self.mail_dir)
        self.process: ManagedProcess | None = None
        self.superuser: dict | None = None
        self.start_error: str | None = None

    def send(self, req: Req, variables: dict) -> Response:
        if self.process is not None and not self.process.alive():
            raise HarnessError(f"{self.kind} server has exited:\n{self.process.tail()}")
        return send(self.port, req, variables)

    def wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise HarnessError(f"{self.kind} exited during start-up:\n{self.process.tail()}")
            try:
                resp = send(self.port, Req("GET", path), {})
                if resp.status == 200:
                    return
                last = f"status {resp.status}"
            except HarnessError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise HarnessError(f"{self.kind} not ready after {timeout}s ({last}):\n{self.process.tail()}")

    def stop(self):
        if self.process is not None:
            self.process.stop()


class DjoserTarget(Target):
    kind = "djoser"

    def __init__(self, workdir, secret_key, profile, flags, python, template_db: Path,
                 fast_hashing: bool):
        super().__init__(workdir, secret_key, profile, flags)
        self.python = python
        self.fast_hashing = fast_hashing
        self.db = workdir / "djoser.sqlite3"
        shutil.copyfile(template_db, self.db)

    def env(self) -> dict:
        return djoser_env(self.secret_key, self.db, self.mail_dir, self.profile_flags,
                          self.fast_hashing)

    def start(self):
        self.process = ManagedProcess(
            f"djoser[{self.profile}]",
            [self.python, "manage.py", "runserver", f"{HOST}:{self.port}", "--noreload"],
            self.env(), DJANGO_PROJECT, self.workdir / "djoser.log",
        )
        self.wait_ready("/auth/", 60)
        self.superuser = dict(SUPERUSER)


def djoser_env(secret_key, db, mail_dir, flags, fast_hashing: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORMAN_")}
    env.update(COMMON_ENV)
    env.update(profile_env(flags))
    env.update({
        "DOORMAN_SECURITY__SECRET_KEY": secret_key,
        "DIFF_DJOSER_DB": str(db),
        "DIFF_DJOSER_MAIL_DIR": str(mail_dir),
        "DJANGO_SETTINGS_MODULE": "djoser_project.settings",
        "PYTHONUNBUFFERED": "1",
    })
    env["DIFF_DJOSER_FAST_HASHING"] = "1" if fast_hashing else ""
    return env


def prepare_djoser_template(python: str, workdir: Path, secret_key: str, fast_hashing: bool) -> Path:
    """Migrate a database once and create the superuser; every profile
    starts from a copy of it."""
    db = workdir / "template.sqlite3"
    env = djoser_env(secret_key, db, workdir / "template-mail", {}, fast_hashing)
    _run_checked([python, "manage.py", "migrate", "--noinput", "-v", "0"], env,
                 DJANGO_PROJECT, 180, "django migrate")
    env["DJANGO_SUPERUSER_PASSWORD"] = SUPERUSER["password"]
    _run_checked([python, "manage.py", "createsuperuser", "--noinput",
                  "--username", SUPERUSER["username"], "--email", SUPERUSER["email"]],
                 env, DJANGO_PROJECT, 120, "django createsuperuser")
    return db


def django_versions(python: str) -> dict:
    code = (
        "import json, django, rest_framework, rest_framework_simplejwt, jwt\n"
        "from importlib.metadata import version\n"
        "print(json.dumps({'python': __import__('platform').python_version(),"
        " 'django': django.get_version(), 'djangorestframework': rest_framework.VERSION,"
        " 'djangorestframework-simplejwt': version('djangorestframework-simplejwt'),"
        " 'djoser': version('djoser'), 'PyJWT': jwt.__version__}))"
    )
    out = _run_checked([python, "-c", code], dict(os.environ), HERE, 60, "version probe")
    return json.loads(out)


class DoormanTarget(Target):
    kind = "doorman"

    def __init__(self, workdir, secret_key, profile, flags, binary: Path, extra_env: dict):
        super().__init__(workdir, secret_key, profile, flags)
        self.binary = binary
        self.extra_env = extra_env

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOORMAN_")}
        env.update(COMMON_ENV)
        env.update(profile_env(self.profile_flags))
        env.update({
            "DOORMAN_SECURITY__SECRET_KEY": self.secret_key,
            "DOORMAN_DATABASE__URL": f"sqlite://{self.workdir / 'doorman.db'}",
            "DOORMAN_SERVER__LISTEN": f"{HOST}:{self.port}",
            "DOORMAN_EMAIL__URL": f"file://{self.mail_dir}",
            "DOORMAN_EMAIL__POLL_INTERVAL_MS": "50",
            # Djoser has no rate limits, and every scenario comes from one
            # address; doorman's limits are a departure the Rust suite tests.
            "DOORMAN_RATE_LIMIT__ENABLED": "false",
        })
        env.update(self.extra_env)
        return env

    def start(self):
        self.process = ManagedProcess(
            f"doorman[{self.profile}]", [str(self.binary), "serve"], self.env(),
            self.workdir, self.workdir / "doorman.log",
        )
        self.wait_ready("/healthz", 90)
        env = self.env()
        env["DOORMAN_SUPERUSER_PASSWORD"] = SUPERUSER["password"]
        try:
            _run_checked([str(self.binary), "createsuperuser", "--no-input",
                          "--username", SUPERUSER["username"], "--email", SUPERUSER["email"]],
                         env, self.workdir, 120, "doorman createsuperuser")
            self.superuser = dict(SUPERUSER)
        except HarnessError as exc:
            self.superuser = None
            self.start_error = f"createsuperuser failed (admin scenarios will fail): {exc}"


# ---------------------------------------------------------------------------
# Running a scenario on one server
# ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one server did in one scenario."""

    setup: list = field(default_factory=list)  # descriptions
    setup_error: str | None = None
    responses: list = field(default_factory=list)  # normalised, one per step
    raw: list = field(default_factory=list)  # Response objects
    mail: list | None = None  # normalised e-mail summary
    error: str | None = None  # harness-level error (server died, ...)


def run_scenario(scn, target: Target, wait_mail_for: int | None = None,
                 collect_mail: bool = True) -> Outcome:
    """Run setup and the compared steps of scn on target.
    wait_mail_for: if given, poll until this many scenario e-mails arrived
    (doorman delivers asynchronously); otherwise read what is there."""
    ctx = Ctx(scn, target)
    out = Outcome(setup=[s.describe() for s in scn.setup])
    try:
        for step in scn.setup:
            step.run(ctx)
    except SetupFailed as exc:
        out.setup_error = str(exc)
        return out
    except HarnessError as exc:
        out.error = str(exc)
        return out
    # Mail produced by the compared steps only: remember what setup left.
    before = {m.key for m in target.mailbox.all()}
    ordinals = Ordinals()
    for req in scn.steps:
        try:
            resp = target.send(req, ctx.vars)
        except SetupFailed as exc:
            out.setup_error = str(exc)
            return out
        except HarnessError as exc:
            out.error = str(exc)
            return out
        out.raw.append(resp)
        out.responses.append(normalise(resp, ctx, ordinals))
        if req.save:
            body = resp.json()
            for name, key in req.save.items():
                if isinstance(body, dict) and key in body:
                    ctx.set(name, body[key], volatile=True)
    if collect_mail:
        out.mail = scenario_mail(ctx, before, wait_mail_for)
    return out


def scenario_mail(ctx: Ctx, before: set, wait_for: int | None) -> list:
    mine = f"_{ctx.tag}@"

    def current():
        return [m for m in ctx.target.mailbox.all()
                if m.key not in before and any(mine in a for a in m.to)]

    if wait_for is not None:
        deadline = time.monotonic() + (MAIL_TIMEOUT if wait_for > 0 else MAIL_GRACE)
        while len(current()) < max(wait_for, 1) and time.monotonic() < deadline:
            time.sleep(0.05)
    summary = []
    for m in current():
        to = ",".join(sorted(a.replace(f"_{ctx.tag}@example.com", "") for a in m.to))
        summary.append({"to": to, "kind": m.kind, "subject": m.subject})
    summary.sort(key=lambda d: (d["to"], d["kind"]))
    return summary


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
HEX40_RE = re.compile(r"\b[0-9a-f]{40}\b")
BASE_RE = re.compile(r"http://127\.0\.0\.1:\d+")


class Ordinals:
    """Unknown volatile values → <kind#n>, numbered by first appearance within
    a scenario, so equality between values survives normalisation."""

    def __init__(self):
        self.seen: dict[tuple, str] = {}

    def get(self, kind, value) -> str:
        key = (kind, value)
        if key not in self.seen:
            n = sum(1 for k in self.seen if k[0] == kind) + 1
            self.seen[key] = f"<{kind}#{n}>"
        return self.seen[key]


def _norm_str(s: str, ctx: Ctx, ordinals: Ordinals) -> str:
    if s in ctx.volatile:
        return ctx.volatile[s]
    for value, placeholder in sorted(ctx.volatile.items(), key=lambda kv: -len(kv[0])):
        if len(value) >= 8 and value in s:
            s = s.replace(value, placeholder)
    s = BASE_RE.sub("<base>", s)
    s = JWT_RE.sub(lambda m: ordinals.get("jwt", m.group(0)), s)
    s = HEX40_RE.sub(lambda m: ordinals.get("token", m.group(0)), s)
    return s


def _norm_json(value, ctx, ordinals, key=None):
    if isinstance(value, dict):
        return {k: _norm_json(v, ctx, ordinals, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm_json(v, ctx, ordinals) for v in value]
    if isinstance(value, str):
        if value in ctx.volatile:
            return ctx.volatile[value]
        # Credentials are volatile whatever their format.
        if key == "auth_token":
            return ordinals.get("token", value)
        if key in ("access", "refresh") and value:
            return ordinals.get("jwt", value)
        return _norm_str(value, ctx, ordinals)
    if key in ("id", "user_id") and isinstance(value, int) and not isinstance(value, bool):
        return ctx.ids.get(value) or ordinals.get("id", value)
    return value


def key_order(value, path="$") -> dict:
    """Key order of every object in a JSON value, by JSON path."""
    out = {}
    if isinstance(value, dict):
        out[path] = list(value.keys())
        for k, v in value.items():
            out.update(key_order(v, f"{path}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(key_order(v, f"{path}[{i}]"))
    return out


def normalise(resp: Response, ctx: Ctx, ordinals: Ordinals) -> dict:
    headers = {}
    for name, value in resp.headers.items():
        value = BASE_RE.sub("<base>", value)
        if name == "location":
            value = re.sub(r"/users/(\d+)/",
                           lambda m: "/users/%s/" % (ctx.ids.get(int(m.group(1)))
                                                     or ordinals.get("id", int(m.group(1)))),
                           value)
        headers[name] = value
    out: dict = {"status": resp.status, "headers": headers}
    parsed = resp.json() if resp.body else MISSING
    if not resp.body:
        out["body"] = None
        out["body_text"] = ""
    elif parsed is MISSING:
        out["body"] = None
        text = resp.body.decode("utf-8", errors="replace")
        out["body_text"] = text[:400] + ("…" if len(text) > 400 else "")
    else:
        body = _norm_json(parsed, ctx, ordinals)
        out["body"] = body
        order = key_order(body)
        if order:
            out["key_order"] = order
    return out


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


@dataclass
class Diff:
    aspect: str  # status | body | header:<name> | key_order | allow_order | mail | setup | error
    step: int | None
    djoser: Any
    doorman: Any
    severity: str = "error"  # error | warning
    allowed_by: str | None = None
    note: str = ""


def _allow_set(value):
    if value is None:
        return None
    return sorted(m.strip().upper() for m in value.split(",") if m.strip())


def compare_outcomes(dj: Outcome, dm: Outcome) -> list[Diff]:
    diffs: list[Diff] = []
    if dj.error or dj.setup_error:
        raise HarnessError(f"the Djoser side failed: {dj.error or dj.setup_error}")
    if dm.error:
        return [Diff("error", None, None, dm.error)]
    if dm.setup_error:
        return [Diff("setup", None, "setup succeeded", dm.setup_error)]
    for i, (a, b) in enumerate(zip(dj.responses, dm.responses)):
        if a["status"] != b["status"]:
            diffs.append(Diff("status", i, a["status"], b["status"]))
        if a["body"] != b["body"] or (a["body"] is None and a.get("body_text") != b.get("body_text")):
            diffs.append(Diff("body", i, _body_view(a), _body_view(b)))
        elif a.get("key_order") != b.get("key_order"):
            diffs.append(Diff("key_order", i, a.get("key_order"), b.get("key_order"),
                              severity="warning"))
        for h in COMPARED_HEADERS:
            va, vb = a["headers"].get(h), b["headers"].get(h)
            if va == vb:
                continue
            if h == "allow" and va and vb and _allow_set(va) == _allow_set(vb):
                diffs.append(Diff("allow_order", i, va, vb, severity="warning"))
            else:
                diffs.append(Diff(f"header:{h}", i, va, vb))
    if len(dm.responses) != len(dj.responses):
        diffs.append(Diff("error", None, len(dj.responses), len(dm.responses),
                          note="different number of responses"))
    if dj.mail is not None and dm.mail is not None:
        sa = [(m["to"], m["kind"]) for m in dj.mail]
        sb = [(m["to"], m["kind"]) for m in dm.mail]
        if sa != sb:
            diffs.append(Diff("mail", None, sa, sb))
    return diffs


def _body_view(r: dict):
    return r["body"] if r["body"] is not None else r.get("body_text", "")


@dataclass
class Expected:
    """An allow-listed, deliberate difference between doorman and Djoser.

    scenarios: glob patterns on scenario names; aspects: glob patterns on
    Diff.aspect; steps: step indexes (None: all); check(djoser_response,
    doorman_response) -> None if doorman's answer is acceptable, else a
    message explaining why it is not (it is then reported as a failure)."""

    id: str
    reason: str
    scenarios: tuple
    aspects: tuple = ("*",)
    steps: tuple | None = None
    check: Callable | None = None
    when: Callable | None = None  # when(djoser_response) -> bool: entry applies at all

    def matches(self, scenario_name: str, diff: Diff, dj: "Outcome") -> bool:
        if not any(fnmatch.fnmatchcase(scenario_name, p) for p in self.scenarios):
            return False
        if not any(fnmatch.fnmatchcase(diff.aspect, p) for p in self.aspects):
            return False
        if self.steps is not None and diff.step not in self.steps:
            return False
        if self.when is not None:
            if diff.step is None or diff.step >= len(dj.responses):
                return False
            if not self.when(dj.responses[diff.step]):
                return False
        return True


def classify(scn_name: str, diffs: list[Diff], dj: Outcome, dm: Outcome,
             allow_list: list[Expected]) -> None:
    """Mark diffs explained by the allow-list (in place)."""
    for d in diffs:
        if d.severity != "error":
            continue
        for entry in allow_list:
            if not entry.matches(scn_name, d, dj):
                continue
            problem = None
            # Checks look at one response; differences not tied to a step
            # (e-mail) are accepted on the scenario/aspect match alone.
            if entry.check is not None and d.step is not None and d.step < len(dm.responses):
                problem = entry.check(dj.responses[d.step], dm.responses[d.step])
            if problem:
                d.note = f"allow-list entry {entry.id} applies, but: {problem}"
                continue
            d.allowed_by = entry.id
            break


def verdict(diffs: list[Diff]) -> str:
    if any(d.severity == "error" and not d.allowed_by for d in diffs):
        return "FAIL"
    if any(d.allowed_by for d in diffs):
        return "EXPECTED"
    if diffs:
        return "WARN"
    return "PASS"


def endpoint_of(path: str) -> str:
    """Group key of a request path: ids and templates become {id} etc."""
    p = TEMPLATE.sub(lambda m: "{" + m.group(1).split(".")[-1] + "}", path)
    p = re.sub(r"/users/\d+/", "/users/{id}/", p)
    return p


def render_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
