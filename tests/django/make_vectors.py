#!/usr/bin/env python3
"""Regenerate tests/django/vectors.json: password hashes made by Django itself.

Requirements (this script installs nothing):

    pip install 'django==5.2.*' argon2-cffi bcrypt

Usage, from the crate root:

    python3 tests/django/make_vectors.py > tests/django/vectors.json

Every entry is {"algorithm", "password", "encoded"}. The Rust unit tests in
src/security/hashers.rs check that each one verifies with its password and
fails with a different one. Salts are random, so every run gives new strings;
that is fine, any run's output is a valid set of vectors.

Most entries use Django 5.2's default work factors, because those are what a
real database holds (one PBKDF2 entry has Django 5.2's 1,000,000 iterations).
The others use cheaper or older settings (old argon2-cffi defaults, older
PBKDF2 iteration counts, Django 4.x scrypt parallelism) so that the parsers
see every layout without making the Rust test slow. The
legacy SHA-1 and unsalted formats were removed from Django 5.1's hashers, so
those few are built with hashlib in the exact layout old Django wrote.
"""

import hashlib
import json
import sys

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ],
)
django.setup()

import argon2  # noqa: E402  (needs nothing from Django, but keep imports together)
from django.contrib.auth import hashers  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

ASCII = "correct horse battery staple"
UNICODE = "pässwörd✓"
SPACES = "  with spaces  "


# Cheaper or older variants. make_password() accepts a hasher instance, so
# these do not need to be listed in PASSWORD_HASHERS.
# Older default iteration counts (Django 2.2 and 1.11 for SHA-256, 1.9 for
# SHA-1). Besides showing that any count is accepted, they keep the Rust test
# quick: in an unoptimised test build the generic HMAC code runs about 30
# times slower than in release, so each 1,000,000-iteration vector costs
# seconds there.
class PBKDF2Django22(hashers.PBKDF2PasswordHasher):
    iterations = 150000


class PBKDF2Django111(hashers.PBKDF2PasswordHasher):
    iterations = 36000


class PBKDF2SHA1Django19(hashers.PBKDF2SHA1PasswordHasher):
    iterations = 24000


class PBKDF2SHA1Cheap(hashers.PBKDF2SHA1PasswordHasher):
    iterations = 10000


class BCryptCheap(hashers.BCryptPasswordHasher):
    rounds = 4


class ScryptDjango4(hashers.ScryptPasswordHasher):
    work_factor = 2**10
    parallelism = 1


def argon2_custom(password, type_, version, hash_len, drop_version=False):
    """An argon2 hash in Django's layout with explicit low-level settings."""
    salt = get_random_string(22)
    phc = argon2.low_level.hash_secret(
        password.encode(),
        salt.encode(),
        time_cost=2,
        memory_cost=512,
        parallelism=2,
        hash_len=hash_len,
        type=type_,
        version=version,
    ).decode("ascii")
    if drop_version:
        # The oldest Django argon2 hashes carry no "v=" field at all, which
        # means version 0x10. argon2-cffi still verifies that layout.
        phc = phc.replace("$v=16$", "$", 1)
    return "argon2" + phc


def legacy(digest, password, salt, prefix):
    """SHA-1 / MD5 layouts from Django < 5.1: hex digest of salt + password."""
    hexdigest = digest((salt + password).encode()).hexdigest()
    return hexdigest if prefix is None else f"{prefix}${salt}${hexdigest}"


vectors = []


def add(algorithm, password, encoded):
    vectors.append({"algorithm": algorithm, "password": password, "encoded": encoded})


def django_hash(password, hasher):
    return hashers.make_password(password, hasher=hasher)


add("pbkdf2_sha256", ASCII, django_hash(ASCII, "pbkdf2_sha256"))
add("pbkdf2_sha256", UNICODE, django_hash(UNICODE, PBKDF2Django22()))
add("pbkdf2_sha256", SPACES, django_hash(SPACES, PBKDF2Django111()))
add("pbkdf2_sha1", ASCII, django_hash(ASCII, PBKDF2SHA1Django19()))
add("pbkdf2_sha1", UNICODE, django_hash(UNICODE, PBKDF2SHA1Cheap()))
add("argon2", ASCII, django_hash(ASCII, "argon2"))
add("argon2", UNICODE, django_hash(UNICODE, "argon2"))
add("argon2", SPACES, argon2_custom(SPACES, argon2.low_level.Type.I, 19, 16))
add("argon2", UNICODE, argon2_custom(UNICODE, argon2.low_level.Type.I, 16, 16, True))
add("argon2", ASCII, argon2_custom(ASCII, argon2.low_level.Type.ID, 19, 16))
add("bcrypt_sha256", ASCII, django_hash(ASCII, "bcrypt_sha256"))
add("bcrypt_sha256", UNICODE, django_hash(UNICODE, "bcrypt_sha256"))
add("bcrypt", SPACES, django_hash(SPACES, "bcrypt"))
add("bcrypt", UNICODE, django_hash(UNICODE, BCryptCheap()))
add("scrypt", ASCII, django_hash(ASCII, "scrypt"))
add("scrypt", UNICODE, django_hash(UNICODE, "scrypt"))
add("scrypt", SPACES, django_hash(SPACES, ScryptDjango4()))
add("md5", ASCII, django_hash(ASCII, "md5"))
add("md5", UNICODE, django_hash(UNICODE, "md5"))
add("sha1", SPACES, legacy(hashlib.sha1, SPACES, get_random_string(12), "sha1"))
add("unsalted_sha1", UNICODE, legacy(hashlib.sha1, UNICODE, "", "sha1"))
add("unsalted_md5", ASCII, legacy(hashlib.md5, ASCII, "", "md5"))
add("unsalted_md5", UNICODE, legacy(hashlib.md5, UNICODE, "", None))

# Everything Django itself still understands must verify with Django, or the
# vectors would test nothing.
for v in vectors:
    if v["algorithm"] in {"sha1", "unsalted_sha1", "unsalted_md5"}:
        continue
    if not hashers.check_password(v["password"], v["encoded"]):
        sys.exit(f"Django rejected its own {v['algorithm']} hash: {v['encoded']}")
    if hashers.check_password(v["password"] + "x", v["encoded"]):
        sys.exit(f"Django accepted a wrong password for {v['encoded']}")

json.dump(vectors, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
