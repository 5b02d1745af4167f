#!/usr/bin/env python3
"""Ask Django whether it accepts password hashes that doorman produced.

Requirements (this script installs nothing):

    pip install 'django==5.2.*' argon2-cffi bcrypt

Reads a JSON list of {"password", "encoded"} objects on stdin, runs Django's
check_password() on each and prints a JSON list of booleans in the same order.

Exit status: 0 when every hash verified, 1 when at least one did not,
77 when Django or argon2-cffi cannot be imported (the caller decides whether
that is a skip or a failure), 2 for unreadable input.
"""

import json
import sys

MISSING_DEPENDENCY = 77

try:
    import argon2  # noqa: F401  (Django's Argon2PasswordHasher needs it)
    import django
    from django.conf import settings
except ImportError as exc:
    print(f"check_hashes.py: missing dependency: {exc}", file=sys.stderr)
    sys.exit(MISSING_DEPENDENCY)

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)
django.setup()

from django.contrib.auth.hashers import check_password  # noqa: E402

try:
    items = json.load(sys.stdin)
    pairs = [(item["password"], item["encoded"]) for item in items]
except (ValueError, KeyError, TypeError) as exc:
    print(f"check_hashes.py: bad input: {exc}", file=sys.stderr)
    sys.exit(2)

results = [bool(check_password(password, encoded)) for password, encoded in pairs]
print(json.dumps(results))
sys.exit(0 if all(results) else 1)
