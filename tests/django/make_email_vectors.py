#!/usr/bin/env python3
"""Regenerate tests/django/email_vectors.json: which e-mail addresses Django
and DRF accept, and what Django would store for them.

Requirements (this script installs nothing):

    pip install -r tests/django/requirements.txt

(only ``django==5.2.*`` and ``djangorestframework`` are used).

Usage, from the crate root:

    python3 tests/django/make_email_vectors.py > tests/django/email_vectors.json

What it does:

* Configures Django with no database and translations off, so every message
  is the English source text.
* Builds a list of inputs: hand-picked edge cases (local parts of 64, 65 and
  100 characters, quoted local parts and their escapes, dots, the four
  non-ASCII letters Python's case-insensitive matching lets into ASCII
  classes, Unicode local parts and domains, punycode labels, IPv4 and IPv6
  literals, trailing dots, hyphens, all-digit top-level domains, whitespace
  at either end and inside, newline, NUL, total lengths around 254 and 320,
  ``localhost``, empty labels), then inputs from a seeded random generator
  that assembles a local part and a domain from an alphabet of characters
  that sit on the edges of the rules.
* For every input records:

  - ``validator``: whether ``django.core.validators.EmailValidator()``
    accepts the raw input as given (no trimming);
  - ``errors``: the messages a DRF ``serializers.EmailField(max_length=254)``
    reports from ``run_validation`` (trimming, blank check, then every
    validator: max length, NUL, surrogates, e-mail syntax), in DRF's order;
    empty when the field accepts the input;
  - ``stored``: for an accepted input, the field's value passed through
    ``BaseUserManager.normalize_email`` (what ``create_user`` stores), else
    null.

That is the pipeline a Djoser registration runs for the ``email`` field (a
ModelSerializer maps the model's ``EmailField(max_length=254)`` to exactly
this serializer field). Inputs are Python strings without lone surrogates,
so the JSON holds only text a Rust ``String`` can hold.

Everything is deterministic: running it twice gives the same file.
"""

import json
import random
import sys

import django
from django.conf import settings

settings.configure(
    USE_I18N=False,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={},
)
django.setup()

import rest_framework  # noqa: E402
from django.contrib.auth.base_user import BaseUserManager  # noqa: E402
from django.core.exceptions import ValidationError as DjangoValidationError  # noqa: E402
from django.core.validators import EmailValidator  # noqa: E402
from rest_framework import serializers  # noqa: E402

SEED = 20250

DOMAIN = "example.com"


def sized(total, domain=DOMAIN):
    """An address of exactly `total` characters: a run of `x` before `@domain`."""
    return "x" * (total - len(domain) - 1) + "@" + domain


def long_domain(total):
    """A valid domain of `total` characters: 63-character labels, then `.com`."""
    body = total - len(".com")
    labels = []
    while body > 63:
        # Never leave a lone dot with nothing after it.
        size = 62 if body == 64 else 63
        labels.append("d" * size)
        body -= size + 1
    labels.append("d" * body)
    return ".".join(labels) + ".com"


def hand_picked():
    cases = [
        # Plain shapes.
        "a@example.com",
        "Bob.Smith@Example.COM",
        " Bob.Smith@Example.COM ",
        "plain",
        "",
        " ",
        "\t\n",
        "@",
        "@@",
        "@example.com",
        "a@",
        "a@b",
        "a@b.c",
        "a@b.co",
        "a@@example.com",
        "a@b@example.com",
        "A@EXAMPLE.COM",
        # localhost is allowed by name, case-sensitively.
        "a@localhost",
        "a@LOCALHOST",
        "a@Localhost",
        "a@localhost.",
        "a@sub.localhost",
        "a@localhost.localdomain",
        "root@localhost ",
        # Local-part lengths (RFC 5321's 64 is not enforced by Django).
        "l" * 64 + "@example.com",
        "l" * 65 + "@example.com",
        "l" * 100 + "@example.com",
        "l" * 200 + "@example.com",
        "Long.Local.Part." * 6 + "end@Example.com",
        # Total lengths: 254 is the field's cap, 320 the validator's.
        sized(254),
        sized(255),
        sized(320),
        sized(321),
        sized(400),
        " " + sized(254) + " ",
        "\n" + sized(255),
        sized(255, "bad_domain"),
        sized(320, "bad_domain"),
        sized(321, "bad_domain"),
        "x" * 64 + "@" + long_domain(189),
        "x@" + long_domain(252),
        "x@" + long_domain(253),
        "x@" + long_domain(300),
        # Dots.
        "a.b@example.com",
        "a.b.c.d@example.com",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        ".@example.com",
        "a@example..com",
        "a@.example.com",
        "a@example.com.",
        "a@example.com..",
        "a@.",
        "a@..",
        "a@example.",
        # Every special character of the dot-atom, and some that are not.
        "!#$%&'*+/=?^_`{|}~-@example.com",
        "user+tag@example.com",
        "user=x@example.com",
        "a(b)@example.com",
        "a,b@example.com",
        "a:b@example.com",
        "a;b@example.com",
        "a<b>@example.com",
        "a[b]@example.com",
        "a\\b@example.com",
        'a"b@example.com',
        "a b@example.com",
        "a\tb@example.com",
        "a\x7f@example.com",
        "a\x01@example.com",
        # Quoted local parts.
        '"john doe"@example.com',
        '""@example.com',
        '"a"@example.com',
        '"a"b@example.com',
        'a"b"@example.com',
        '"a.b"@example.com',
        '"a@b"@example.com',
        '"a\\"b"@example.com',
        '"a\\\\b"@example.com',
        '"a\\"@example.com',
        '"a\\ b"@example.com',
        '"\\\t"@example.com',
        '"\t"@example.com',
        '"a\nb"@example.com',
        '"\\\n"@example.com',
        '"a\rb"@example.com',
        '"\\\r"@example.com',
        '"\x01\x08\x0b\x0c\x0e\x1f"@example.com',
        '"\x7f"@example.com',
        '"\\\x7f"@example.com',
        '"\\\x00"@example.com',
        '"\x00"@example.com',
        '"é"@example.com',
        '"\\é"@example.com',
        '"ABC xyz"@example.com',
        '"(),:;<>[]@"@example.com',
        '"a"."b"@example.com',
        '"' + "q" * 300 + '"@example.com',
        # The four letters Python's IGNORECASE matches against A-Z/a-z.
        "\u0130@example.com",
        "\u0131@example.com",
        "\u017f@example.com",
        "\u212a@example.com",
        '"\u0130\u0131\u017f\u212a"@example.com',
        '"\\\u212a"@example.com',
        "a@example.xn--\u017f1",
        "a@example.xn--\u212a1",
        "\u00b5@example.com",
        "\u00df@example.com",
        # Unicode local parts.
        "é@example.com",
        "用户@example.com",
        "𝓻𝓸𝓸𝓽@example.com",
        "e\u0301@example.com",
        # Unicode domains (the regex takes U+00A1..U+FFFF as letters).
        "a@müller.de",
        "a@MÜLLER.DE",
        "a@例子.测试",
        "a@例子.广告",
        "a@пример.рф",
        "a@ÉXAMPLE.COM",
        "a@\u0130STANBUL.com",
        "a@ΣΑΣ.gr",
        "a@ΑΣ.ΕΛ",
        "a@e\u0301.com",
        "a@x\u3000y.com",
        "a@x\u00a0y.com",
        "a@example.com\u200b",
        "a@\ufeffexample.com",
        "a@example.\uffff",
        "a@example.\u00a1\u00a1",
        "a@example.\u00a0\u00a0",
        "a@example.\u0080\u0080",
        "a@𝓻.com",
        "a@example.𝓻𝓸",
        "a@example.😀😀",
        "a@☃.com",
        # Punycode.
        "a@xn--mller-kva.de",
        "a@XN--MLLER-KVA.DE",
        "a@example.xn--p1ai",
        "a@example.XN--P1AI",
        "a@example.xn--80ak6aa92e",
        "a@example.xn--",
        "a@example.xn--1",
        "a@example.xn---1",
        "a@example.xn--" + "a" * 59,
        "a@example.xn--" + "1" * 59,
        "a@example.xn--" + "1" * 60,
        "a@xn--a.com",
        "a@xn--.com",
        # IP literals.
        "a@[127.0.0.1]",
        "a@[255.255.255.255]",
        "a@[256.0.0.1]",
        "a@[1.2.3]",
        "a@[1.2.3.4.5]",
        "a@[01.2.3.4]",
        "a@[1.2.3.04]",
        "a@[0.0.0.0]",
        "a@[1.2.3.4.]",
        "a@[0x7f.0.0.1]",
        "a@[::1]",
        "a@[::]",
        "a@[:]",
        "a@[:::]",
        "a@[1::2::3]",
        "a@[1:2:3:4:5:6:7:8]",
        "a@[1:2:3:4:5:6:7:8:9]",
        "a@[1:2:3:4:5:6:7::]",
        "a@[::2:3:4:5:6:7:8]",
        "a@[1:2:3:4:5:6:7:8::]",
        "a@[2001:DB8::1]",
        "a@[2001:db8::12345]",
        "a@[::ffff:1.2.3.4]",
        "a@[::ffff:01.2.3.4]",
        "a@[::1.2.3.4]",
        "a@[1.2.3.4::]",
        "a@[1:2:3:4:5:6:1.2.3.4]",
        "a@[1:2:3:4:5:6:7:1.2.3.4]",
        "a@[0000:0000:0000:0000:0000:0000:0000:0001]",
        "a@[0000:0000:0000:0000:0000:ffff:1.2.3.4]",
        "a@[0000:0000:0000:0000:0000:ffff:127.0.0.1]",
        "a@[IPv6:::1]",
        "a@[IPv6:2001:db8::1]",
        "a@[fe80::1%eth0]",
        "a@[]",
        "a@[ 1.2.3.4]",
        "a@[1.2.3.4]x",
        "a@x[1.2.3.4]",
        "a@1.2.3.4",
        "a@[1.2.3.4",
        "a@1.2.3.4]",
        # Hyphens.
        "a@-example.com",
        "a@example-.com",
        "a@ex-ample.com",
        "a@ex--ample.com",
        "a@example.-com",
        "a@example.com-",
        "a@example.c-m",
        "a@a-b.c-d",
        "a@x.--",
        "a@-.com",
        "-@example.com",
        "a-@example.com",
        # Digits.
        "a@example.123",
        "a@123.com",
        "a@1.com",
        "a@example.1a",
        "a@example.a1",
        "a@example.co1",
        "123@example.com",
        "a@0.0",
        # Label lengths.
        "a@" + "d" * 63 + ".com",
        "a@" + "d" * 64 + ".com",
        "a@example." + "t" * 63,
        "a@example." + "t" * 64,
        "a@x." + "d" * 63 + ".com",
        "a@x." + "d" * 64 + ".com",
        # Whitespace and control characters.
        " a@example.com",
        "a@example.com ",
        "a@example.com\n",
        "a@example.com\r\n",
        "\ta@example.com\t",
        "a @example.com",
        "a@ example.com",
        "a@example .com",
        "a@exa mple.com",
        "a@example.com\u00a0",
        "\u3000a@example.com\u3000",
        "\u2028a@example.com\u2029",
        "\x1fa@example.com\x1c",
        "\x1d\x1e",
        "\x85a@example.com",
        "a@example.com\x0b\x0c",
        "\u200ba@example.com",
        "a\x00@example.com",
        "a@example.com\x00",
        "\x00",
        "\x00a@example.com",
        "a@exa\x00mple.com",
        " \x00 ",
        "x" * 250 + "\x00@example.com",
    ]
    return cases


# Characters chosen to sit on the edge of some rule: dot-atom specials and
# non-specials, quotes and escapes, whitespace that strip() removes or keeps,
# case-folding oddities, letters from several scripts, astral characters,
# combining marks and compatibility forms.
LOCAL_ALPHABET = (
    "aZz09" "._-+!#$%&'*/=?^`{|}~" '"\\' "@()[]<>,;: " "\t\x00\x7f\x01"
    "é\u0130\u0131\u017f\u212a\u00b5ß用𝓻\u0301\uff41\u3000\u00a0\x1f"
)
DOMAIN_ALPHABET = (
    "aAzZ0" "9-.-." "_@[]: " "é\u0130\u0131\u017f\u212a\u00a1\u00a0\u0080"
    "例пΣ😀\u0301\uff41\u3000\u200b\ufeff"
)
WRAPPERS = ["", "", "", "", "", " ", "\n", "\t", "\x1f", "\u3000", "\x00"]


def random_cases(count):
    rng = random.Random(SEED)

    def run(alphabet, low, high, plain):
        # Mostly plain letters, with an edge character now and then, so
        # the generator reaches both sides of every rule.
        size = rng.randint(low, high)
        return "".join(
            rng.choice(alphabet) if rng.random() < 0.12 else rng.choice(plain)
            for _ in range(size)
        )

    cases = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.15:
            local = '"' + run(LOCAL_ALPHABET, 0, 8, "abc") + '"'
        else:
            local = run(LOCAL_ALPHABET, 0, 12, "abcXY")
        labels = [run(DOMAIN_ALPHABET, 0, 8, "abcxn") for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.6:
            labels.append(rng.choice(["com", "org", "xn--p1ai", "c0m", "c", "рф", "12"]))
        domain = ".".join(labels)
        if rng.random() < 0.08:
            domain = "[" + rng.choice(["1.2.3.4", "::1", "1::", "a:b::c", "1.2.3", "::1.2.3.4"]) + "]"
        address = local + "@" + domain
        if rng.random() < 0.05:
            address = address.replace("@", "", 1)
        if rng.random() < 0.05:
            address = "y" * rng.choice([200, 240, 250, 300, 310]) + address
        cases.append(rng.choice(WRAPPERS) + address + rng.choice(WRAPPERS))
    return cases


def main():
    validator = EmailValidator()
    inputs = []
    seen = set()
    for case in hand_picked() + random_cases(300):
        if case not in seen:
            seen.add(case)
            inputs.append(case)

    vectors = []
    for raw in inputs:
        try:
            validator(raw)
            raw_ok = True
        except DjangoValidationError:
            raw_ok = False
        field = serializers.EmailField(max_length=254)
        try:
            value = field.run_validation(raw)
            errors = []
            stored = BaseUserManager.normalize_email(value)
        except serializers.ValidationError as exc:
            errors = [str(m) for m in exc.detail]
            stored = None
        vectors.append(
            {"input": raw, "validator": raw_ok, "errors": errors, "stored": stored}
        )

    json.dump(
        {
            "generator": "tests/django/make_email_vectors.py",
            "django": django.get_version(),
            "djangorestframework": rest_framework.VERSION,
            "field": "serializers.EmailField(max_length=254), then normalize_email",
            "vectors": vectors,
        },
        sys.stdout,
        ensure_ascii=True,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
