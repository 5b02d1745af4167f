#!/usr/bin/env python3
"""Ask Django whether it accepts activation/reset tokens that doorman made.

Requirements (this script installs nothing):

    pip install 'django==5.2.*'

Reads a JSON list on stdin, each item

    {"secret": str, "fallbacks": [str] (optional),
     "user": {"id": int, "password": str, "last_login": ISO-8601 or null,
              "email": str},
     "token": str, "now": ISO-8601 UTC instant}

and runs Django's PasswordResetTokenGenerator.check_token() on each with the
item's secret (and fallbacks) and the generator's clock frozen at "now"
(through the _now() hook Django provides for tests). Settings match doorman's
assumptions: USE_TZ=True, TIME_ZONE="UTC", PASSWORD_RESET_TIMEOUT=259200.
Prints a JSON list of booleans in input order.

Exit status: 0 when every token verified, 1 when at least one did not,
77 when Django cannot be imported (the caller decides whether that is a skip
or a failure), 2 for unreadable input.
"""

import datetime as dt
import json
import sys

MISSING_DEPENDENCY = 77

try:
    import django
    from django.conf import settings
except ImportError as exc:
    print(f"check_tokens.py: missing dependency: {exc}", file=sys.stderr)
    sys.exit(MISSING_DEPENDENCY)

settings.configure(
    SECRET_KEY="replaced-per-item",
    USE_TZ=True,
    TIME_ZONE="UTC",
    PASSWORD_RESET_TIMEOUT=259200,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={},
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: E402


def aware(iso):
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


class FrozenGenerator(PasswordResetTokenGenerator):
    def __init__(self, now, secret, fallbacks):
        super().__init__()
        self.frozen_now = now
        self.secret = secret
        self.secret_fallbacks = list(fallbacks)

    def _now(self):
        # Django's clock is naive local time; TIME_ZONE is UTC here.
        return self.frozen_now.replace(tzinfo=None)


try:
    items = json.load(sys.stdin)
    cases = []
    for item in items:
        fields = item["user"]
        user = User(
            pk=fields["id"],
            password=fields["password"],
            last_login=None if fields["last_login"] is None else aware(fields["last_login"]),
            email=fields["email"],
        )
        generator = FrozenGenerator(aware(item["now"]), item["secret"], item.get("fallbacks", []))
        cases.append((generator, user, item["token"]))
except (ValueError, KeyError, TypeError) as exc:
    print(f"check_tokens.py: bad input: {exc}", file=sys.stderr)
    sys.exit(2)

results = [bool(generator.check_token(user, token)) for generator, user, token in cases]
print(json.dumps(results))
sys.exit(0 if all(results) else 1)
