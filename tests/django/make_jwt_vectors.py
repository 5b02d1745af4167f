#!/usr/bin/env python3
"""Regenerate tests/django/jwt_vectors.json: JWTs made by
djangorestframework-simplejwt 5.5.1 itself.

Requirements (this script installs nothing):

    pip install 'django==5.2.*' djangorestframework 'djangorestframework-simplejwt==5.5.1'

Usage, from the crate root:

    python3 tests/django/make_jwt_vectors.py > tests/django/jwt_vectors.json

What it does:

* Configures Django with a fixed SECRET_KEY and simplejwt's defaults
  (HS256, 5-minute access and 1-day refresh lifetimes, LEEWAY 0).
* Freezes simplejwt's clock by patching ``rest_framework_simplejwt.tokens.
  aware_utcnow`` and makes ``uuid4`` (used for ``jti``) draw from a seeded
  generator, so the file is the same on every run.
* For several user ids, builds an unsaved ``User`` with that pk and calls
  ``RefreshToken.for_user(user)`` — exactly what ``jwt/create`` does — then
  takes ``refresh.access_token`` as the view does. Records both tokens and
  their decoded payloads.
* Adds a token whose ``user_id`` is a JSON integer, built with
  ``RefreshToken()`` and ``token["user_id"] = 7``: what simplejwt <= 5.5.0
  wrote for integer primary keys.
* Adds tokens signed with other secrets (long and non-ASCII ones, to cover
  HMAC's key hashing) through ``TokenBackend("HS256", secret).encode()``,
  the call simplejwt makes when it serialises a token.

The tokens expire in real time; the Rust tests check them with "now" set to
their ``iat``.
"""

import datetime as dt
import json
import random
import sys
import uuid
import warnings
from unittest import mock

import django
from django.conf import settings

SECRET = "doorman-jwt-vectors-secret-not-for-production-0123456789"

settings.configure(
    SECRET_KEY=SECRET,
    USE_TZ=True,
    TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={},
)
django.setup()

# PyJWT warns about short HMAC keys; the tests use some on purpose.
warnings.filterwarnings("ignore", message="The HMAC key is")

import rest_framework_simplejwt  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from rest_framework_simplejwt.backends import TokenBackend  # noqa: E402
from rest_framework_simplejwt.settings import api_settings  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

FROZEN = dt.datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone.utc)
rng = random.Random(20250304)


def seeded_uuid4():
    return uuid.UUID(bytes=rng.randbytes(16), version=4)


def entry(secret, token, payload):
    return {"secret": secret, "token": token, "claims": payload}


vectors = []
with mock.patch("rest_framework_simplejwt.tokens.aware_utcnow", return_value=FROZEN), mock.patch(
    "rest_framework_simplejwt.tokens.uuid4", side_effect=seeded_uuid4
):
    pairs = []
    for pk in [1, 42, 2147483647]:
        refresh = RefreshToken.for_user(User(pk=pk))
        access = refresh.access_token
        pairs.append(
            {
                "user_pk": pk,
                "refresh": entry(SECRET, str(refresh), dict(refresh.payload)),
                "access": entry(SECRET, str(access), dict(access.payload)),
            }
        )

    legacy = RefreshToken()
    legacy["user_id"] = 7
    vectors.append(entry(SECRET, str(legacy), dict(legacy.payload)))

    for secret in [
        "django-insecure-" + "x" * 70,
        "sécret ünïcode ✓",
        "k",
    ]:
        token = RefreshToken.for_user(User(pk=5))
        payload = dict(token.payload)
        vectors.append(entry(secret, TokenBackend("HS256", secret).encode(payload), payload))

json.dump(
    {
        "simplejwt_version": rest_framework_simplejwt.__version__
        if hasattr(rest_framework_simplejwt, "__version__")
        else None,
        "django_version": django.get_version(),
        "access_lifetime": int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_lifetime": int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        "leeway": api_settings.LEEWAY,
        "pairs": pairs,
        "others": vectors,
    },
    sys.stdout,
    indent=1,
    ensure_ascii=False,
)
sys.stdout.write("\n")
