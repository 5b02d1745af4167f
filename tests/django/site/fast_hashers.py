"""Django's own PBKDF2 hasher with 1,000 iterations instead of 1,000,000,
for the takeover proof: the stored format is Django's real
`pbkdf2_sha256$<iterations>$…`, and doorman's debug build verifies it in
milliseconds rather than seconds."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000
