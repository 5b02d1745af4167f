#!/usr/bin/env python3
"""Ask djangorestframework-simplejwt whether it accepts JWTs doorman made.

Requirements (this script installs nothing):

    pip install 'django==5.2.*' djangorestframework 'djangorestframework-simplejwt==5.5.1'

Reads a JSON list on stdin, each item

    {"secret": str, "token": str, "token_type": "access" | "refresh"}

and validates each token with simplejwt's own ``AccessToken(token)`` or
``RefreshToken(token)`` (signature, expiry against the real clock, jti and
token type), using simplejwt's defaults (HS256, LEEWAY 0) and the item's
secret as signing key. For refresh tokens it also derives
``refresh.access_token`` as the jwt/refresh view does and re-reads it.

Prints a JSON list, one object per item in input order:
{"ok": true, "payload": {...}} or {"ok": false, "error": "<simplejwt text>"}.

Exit status: 0 when every token was accepted, 1 when at least one was not,
77 when Django, DRF or simplejwt cannot be imported (the caller decides
whether that is a skip or a failure), 2 for unreadable input.
"""

import json
import sys
import warnings

MISSING_DEPENDENCY = 77

try:
    import django
    import rest_framework  # noqa: F401
    import rest_framework_simplejwt  # noqa: F401
    from django.conf import settings
except ImportError as exc:
    print(f"check_jwts.py: missing dependency: {exc}", file=sys.stderr)
    sys.exit(MISSING_DEPENDENCY)

settings.configure(
    SECRET_KEY="replaced-per-item",
    USE_TZ=True,
    TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={},
)
django.setup()

# PyJWT warns about short HMAC keys; the tests use some on purpose.
warnings.filterwarnings("ignore", message="The HMAC key is")

from rest_framework_simplejwt.backends import TokenBackend  # noqa: E402
from rest_framework_simplejwt.exceptions import TokenError  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken  # noqa: E402


def with_backend(token_class, backend):
    """The token class, signing and verifying with this item's secret."""

    class Checked(token_class):
        def get_token_backend(self):
            return backend

    return Checked


try:
    items = json.load(sys.stdin)
    cases = []
    for item in items:
        backend = TokenBackend("HS256", item["secret"])
        kind = {"access": AccessToken, "refresh": RefreshToken}[item["token_type"]]
        cases.append((with_backend(kind, backend), backend, item["token"]))
except (ValueError, KeyError, TypeError) as exc:
    print(f"check_jwts.py: bad input: {exc}", file=sys.stderr)
    sys.exit(2)

results = []
for token_class, backend, token in cases:
    try:
        checked = token_class(token)
        if isinstance(checked, RefreshToken):
            access = checked.access_token
            with_backend(AccessToken, backend)(backend.encode(access.payload))
        results.append({"ok": True, "payload": checked.payload})
    except TokenError as exc:
        results.append({"ok": False, "error": str(exc)})

print(json.dumps(results))
sys.exit(0 if all(r["ok"] for r in results) else 1)
