#!/usr/bin/env python3
"""Regenerate tests/django/token_vectors.json: uids and activation/reset
tokens made by Django itself.

Requirements (this script installs nothing):

    pip install 'django==5.2.*'

Usage, from the crate root:

    python3 tests/django/make_token_vectors.py > tests/django/token_vectors.json

What it does:

* Configures Django with USE_TZ=True, TIME_ZONE="UTC" and
  PASSWORD_RESET_TIMEOUT=259200 (the default three days), so Django's naive
  "now" is UTC wall-clock time, as doorman assumes.
* Builds unsaved ``User`` objects with fixed pk, password, last_login and
  email (no database is touched: the generator only reads attributes).
* Makes tokens through the public ``make_token()`` with the clock frozen: the
  generator is a subclass whose ``_now()`` returns a fixed naive datetime.
  Django documents ``_now()`` as the hook for mocking in tests, so the tokens
  are exactly what ``default_token_generator`` would have produced at that
  instant. The secret comes from the generator's ``secret`` property.
* Asks ``check_token()`` about tokens at several instants, including the two
  seconds either side of the expiry boundary, and with secret fallbacks.
* Encodes uids with ``urlsafe_base64_encode(force_bytes(pk))`` exactly as
  Djoser does, and decodes odd uids the way Djoser's serializer does:
  ``force_str(urlsafe_base64_decode(uid))`` followed by the integer primary
  key field's ``get_prep_value`` (Python ``int()``). The decoded value is
  written as a decimal string (it may not fit 32 bits), or null when Django
  raises. One input, "2aHZog" (the Arabic-Indic digits "١٢"), is text that
  Python's int() reads as 12 and doorman deliberately refuses; the Rust test
  names it as the one known difference.

Everything is deterministic: running it twice gives the same file.
"""

import datetime as dt
import json
import sys

import django
from django.conf import settings

TIMEOUT = 259200

settings.configure(
    SECRET_KEY="doorman-token-vectors-secret-not-for-production",
    SECRET_KEY_FALLBACKS=[],
    USE_TZ=True,
    TIME_ZONE="UTC",
    PASSWORD_RESET_TIMEOUT=TIMEOUT,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={},
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: E402
from django.utils.encoding import force_bytes, force_str  # noqa: E402
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode  # noqa: E402

UTC = dt.timezone.utc


class FrozenGenerator(PasswordResetTokenGenerator):
    """The stock generator with a settable clock (naive UTC, like Django's)."""

    def __init__(self, now, secret, fallbacks=()):
        super().__init__()
        self.frozen_now = now
        self.secret = secret
        self.secret_fallbacks = list(fallbacks)

    def _now(self):
        return self.frozen_now


def naive(iso):
    """A naive UTC datetime from an ISO string ending in Z."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)


def user_from(fields):
    last_login = fields["last_login"]
    return User(
        pk=fields["id"],
        password=fields["password"],
        last_login=None
        if last_login is None
        else dt.datetime.fromisoformat(last_login.replace("Z", "+00:00")),
        email=fields["email"],
    )


SECRETS = [
    "doorman-token-vectors-secret-not-for-production",
    "django-insecure-+k3$w9z!q#a@e^r&t*y(u)i_o=p[l]k;j'h,g.f/d",
    "sécret ünïcode ✓",
]

USERS = [
    {
        "id": 1,
        "password": "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$"
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdE=",
        "last_login": None,
        "email": "",
    },
    {
        "id": 42,
        "password": "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$"
        "c29tZWhhc2hzb21laGFzaHNvbWVoYXNoc29tZWhhc2g",
        "last_login": "2024-05-17T08:09:10.123456Z",
        "email": "alice@example.com",
    },
    {
        "id": 2147483647,
        "password": "!unusablePasswordRandomTailOf40Characters1234",
        "last_login": "2009-02-13T23:31:30Z",
        "email": "Zoë.Ünïcode@exämple.org",
    },
    {
        "id": 7,
        "password": "",
        "last_login": "2001-01-01T00:00:00.999999Z",
        "email": "",
    },
    {
        "id": -3,
        "password": "md5$salt$0123456789abcdef0123456789abcdef",
        "last_login": "2038-01-19T03:14:08Z",
        "email": "negative@example.com",
    },
]

NOWS = [
    "2001-01-01T00:00:00Z",
    "2001-01-01T00:00:35Z",
    "2024-05-17T08:09:11.999999Z",
    "2025-12-31T23:59:59Z",
    "2069-05-25T05:25:14Z",
    "2099-12-31T23:59:59Z",
]


def token_vectors():
    out = []
    for secret_index, secret in enumerate(SECRETS):
        for user_index, fields in enumerate(USERS):
            # Every user with the first secret; a spread with the others.
            nows = NOWS if secret_index == 0 else [NOWS[(user_index + secret_index) % len(NOWS)]]
            for now in nows:
                gen = FrozenGenerator(naive(now), secret)
                user = user_from(fields)
                token = gen.make_token(user)
                out.append(
                    {
                        "secret": secret,
                        "user": fields,
                        "now": now,
                        "ts": gen._num_seconds(gen._now()),
                        "token": token,
                    }
                )
    return out


def check_vectors():
    """check_token() answers around the expiry boundary and with fallbacks."""
    out = []
    issued = "2024-05-17T08:09:11Z"
    fields = USERS[1]
    maker = FrozenGenerator(naive(issued), SECRETS[0])
    token = maker.make_token(user_from(fields))
    base = naive(issued)
    cases = [
        ("same instant", base, SECRETS[0], []),
        ("one second before expiry", base + dt.timedelta(seconds=TIMEOUT - 1), SECRETS[0], []),
        ("exactly at the timeout", base + dt.timedelta(seconds=TIMEOUT), SECRETS[0], []),
        ("timeout plus 0.999s", base + dt.timedelta(seconds=TIMEOUT, microseconds=999999), SECRETS[0], []),
        ("one second past", base + dt.timedelta(seconds=TIMEOUT + 1), SECRETS[0], []),
        ("issued in the future", base - dt.timedelta(days=400), SECRETS[0], []),
        ("other secret", base, SECRETS[1], []),
        ("old secret as fallback", base, SECRETS[1], [SECRETS[2], SECRETS[0]]),
        ("fallback, expired", base + dt.timedelta(seconds=TIMEOUT + 1), SECRETS[1], [SECRETS[0]]),
    ]
    for name, now, secret, fallbacks in cases:
        checker = FrozenGenerator(now, secret, fallbacks)
        out.append(
            {
                "name": name,
                "secret": secret,
                "fallbacks": fallbacks,
                "user": fields,
                "token": token,
                "now": now.isoformat(timespec="microseconds") + "Z",
                "valid": checker.check_token(user_from(fields), token),
            }
        )
    return out


def encode_vectors():
    ids = [0, 1, 9, 10, 42, 1000, 12345, 999999, 2147483647, -1, -2147483648]
    return [{"id": pk, "uid": urlsafe_base64_encode(force_bytes(pk))} for pk in ids]


# Odd uids, decoded the way Djoser's UidAndTokenSerializer does. Inputs where
# a pad sequence that closes a quad is followed by more base64 data are left
# out on purpose: CPython 3.11/3.12 and 3.13+ decode those differently.
DECODE_INPUTS = [
    "MQ", "MTIzNDU", "MjE0NzQ4MzY0Nw", "LTE", "LTIxNDc0ODM2NDg",
    "MDE", "MDAwMDAx", "KzE", "IDEg", "MV8wMDA", "MF8x", "4oCDMQ", "wqAxwqA",
    "MTA", "MTAwMA", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "MjE0NzQ4MzY0OA",
    "LTIxNDc0ODM2NDk", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ",
    "MQ==", "MQ=", "MQ===", "MTIzNDU=", "M Q", "M!Q", "M.Q", "MQ\n", "MR",
    "MQé", "Mé=Q", "==MQ", "=M=Q=", "MTI", "MTI=",
    "", "M", "MQM", "-", "_", "--", "a-b-c", "====", "!!!!",
    "X18", "MS4w", "MWUz", "MCsx", "LSAx", "MV9fMA", "XzE", "MV8",
    "MA", "LTA", "AA", "MQA", "_w", "-_-_", "2YHZog",
    "2aHZog", "bm9uZQ", "4pyT", "MSAg", "CTEK", "HDE",
]


def decode_one(uid):
    field = User._meta.pk
    try:
        text = force_str(urlsafe_base64_decode(uid))
        return str(field.get_prep_value(text))
    except (ValueError, TypeError, OverflowError):
        return None


def decode_vectors():
    return [{"uid": uid, "pk": decode_one(uid)} for uid in DECODE_INPUTS]


json.dump(
    {
        "django_version": django.get_version(),
        "timeout": TIMEOUT,
        "tokens": token_vectors(),
        "checks": check_vectors(),
        "uid_encode": encode_vectors(),
        "uid_decode": decode_vectors(),
    },
    sys.stdout,
    indent=1,
    ensure_ascii=False,
)
sys.stdout.write("\n")
