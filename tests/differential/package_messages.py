"""Print, as JSON, the English message strings the pinned packages can put in
a response body: Djoser's Messages, DRF's exception details and field error
messages, simplejwt's translatable strings, Django's username validator and
the four password validators (rendered with the reference settings).

Run with the venv's interpreter from djoser_project/ (run.py does this);
the capture stores the output under "package_messages".
"""
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "djoser_project"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djoser_project.settings")
os.environ.setdefault("DOORMAN_SECURITY__SECRET_KEY", "messages-only")

import django  # noqa: E402

django.setup()

from django.contrib.auth import password_validation  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from rest_framework import exceptions, fields, serializers  # noqa: E402
import rest_framework_simplejwt  # noqa: E402

from djoser.constants import Messages  # noqa: E402


def plain(value):
    return str(value)


out = {}
out["djoser.constants.Messages"] = {
    k: plain(v) for k, v in vars(Messages).items() if k.isupper()
}
out["rest_framework.exceptions (default_detail)"] = {
    cls.__name__: plain(cls.default_detail)
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, exceptions.APIException)
    and getattr(cls, "default_detail", None) is not None
}
out["rest_framework.fields (default_error_messages)"] = {}
for cls in (fields.Field, fields.CharField, fields.EmailField, fields.IntegerField,
            serializers.Serializer, serializers.ListSerializer):
    msgs = {}
    for klass in reversed(cls.__mro__):
        msgs.update({k: plain(v) for k, v in getattr(klass, "default_error_messages", {}).items()})
    out["rest_framework.fields (default_error_messages)"][cls.__name__] = msgs



def gettext_strings(package_root: Path, names) -> dict:
    """The literal strings wrapped in _() in the given source files."""
    strings = {}
    for name in names:
        text = (package_root / name).read_text()
        found = re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"\s*\)', text)
        found += re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'\s*\)", text)
        if found:
            strings[name] = sorted(set(found))
    return strings


out["rest_framework.authentication (gettext strings)"] = gettext_strings(
    Path(fields.__file__).parent, ("authentication.py",))
out["rest_framework_simplejwt (gettext strings)"] = gettext_strings(
    Path(rest_framework_simplejwt.__file__).parent,
    ("authentication.py", "tokens.py", "serializers.py", "exceptions.py", "backends.py"))

username_field = User._meta.get_field("username")
out["django username field"] = {
    "validator": plain(username_field.validators[0].message),
    "unique": plain(username_field.error_messages["unique"]),
    "max_length (as DRF renders it)": plain(
        fields.CharField.default_error_messages["max_length"]).format(max_length=150),
}

user = User(username="alice_example", email="alice@example.com")
validators = {}
for pw in ("alice_example", "1", "1234567", "password", "90210736458"):
    try:
        password_validation.validate_password(pw, user)
        validators[pw] = []
    except ValidationError as exc:
        validators[pw] = [plain(m) for m in exc.messages]
out["django password validators (sample passwords, user alice_example)"] = validators

json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
print()
