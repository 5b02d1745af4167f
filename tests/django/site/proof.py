#!/usr/bin/env python3
"""The Django side of the takeover proof (tests/api/django_proof.rs): one
action on the database Django and doorman share, through Django's own code,
its answer printed as one JSON object.

    DATABASE_URL=... DJANGO_SECRET_KEY=... python3 proof.py ACTION [ARGS...]

Actions:
  migrate                      manage.py migrate (every app of settings.py)
  check                        manage.py check
  create_user NAME PASSWORD    User.objects.create_user
  check_password NAME PASSWORD {"ok": bool}
  set_password NAME PASSWORD   user.set_password + save
  drf_token NAME               DRF Token.objects.create -> {"key"}
  reset_link NAME              Djoser's uid and token for NAME -> {"uid", "token"}
  reset_valid NAME TOKEN       default_token_generator.check_token -> {"ok"}
  jwt_pair NAME                simplejwt RefreshToken.for_user -> {"access", "refresh"}
  refresh_ok REFRESH           simplejwt's refresh check with the blacklist -> {"ok", "error"}
  refresh REFRESH              what simplejwt's jwt/refresh answers for REFRESH, and
                               the new access token's claims -> {"access", "claims"}
  totp SECRET STEPS            an authenticator app's code (pyotp) for the time
                               STEPS 30-second steps from now -> {"code"}
  blacklist REFRESH            simplejwt's RefreshToken(REFRESH).blacklist()
  profile NAME PICTURE ROLE    a seed UserProfile (phone 555) with a picture path and a role
  profile_of NAME              that profile's fields as Django reads them
  admin_pages ID [NAME]        the Django admin's change list and the user's
                               change form, as a superuser -> {"list", "change",
                               "listed": NAME on the list}
  extras OWNER MEMBER GROUP    a province on OWNER's profile, a direct and a
                               group permission, MEMBER joins GROUP
  drf_logout NAME              deletes NAME's DRF token
  leave_group NAME GROUP       NAME leaves GROUP
  delete_user NAME             user.delete(), with Django's cascades

Exit status 77 when Django or one of its apps cannot be imported (the test
decides whether that is a skip or a failure).
"""

import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

try:
    import django
    import djoser  # noqa: F401
    import PIL  # noqa: F401
    import pyotp  # noqa: F401
    import rest_framework_simplejwt  # noqa: F401

    if not os.environ.get("DATABASE_URL", "").startswith("sqlite"):
        import psycopg  # noqa: F401
except ImportError as exc:
    print(f"proof.py: missing dependency: {exc}", file=sys.stderr)
    sys.exit(77)

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.tokens import default_token_generator  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.encoding import force_bytes  # noqa: E402
from django.utils.http import urlsafe_base64_encode  # noqa: E402

User = get_user_model()


def user(name):
    return User.objects.get(username=name)


def main(action, *args):
    if action == "migrate":
        call_command("migrate", verbosity=0, interactive=False, stdout=io.StringIO())
        return {"ok": True}
    if action == "check":
        call_command("check", stdout=io.StringIO())
        return {"ok": True}
    if action == "create_user":
        u = User.objects.create_user(args[0], f"{args[0]}@example.com", args[1])
        return {"id": u.id}
    if action == "check_password":
        return {"ok": user(args[0]).check_password(args[1])}
    if action == "set_password":
        u = user(args[0])
        u.set_password(args[1])
        u.save()
        return {"ok": True}
    if action == "drf_token":
        from rest_framework.authtoken.models import Token

        return {"key": Token.objects.create(user=user(args[0])).key}
    if action == "reset_link":
        u = user(args[0])
        return {
            "uid": urlsafe_base64_encode(force_bytes(u.pk)),
            "token": default_token_generator.make_token(u),
        }
    if action == "reset_valid":
        return {"ok": default_token_generator.check_token(user(args[0]), args[1])}
    if action == "jwt_pair":
        from rest_framework_simplejwt.tokens import RefreshToken

        refresh = RefreshToken.for_user(user(args[0]))
        return {"access": str(refresh.access_token), "refresh": str(refresh)}
    if action == "refresh_ok":
        from rest_framework_simplejwt.exceptions import TokenError
        from rest_framework_simplejwt.tokens import RefreshToken

        try:
            RefreshToken(args[0]).check_blacklist()
            return {"ok": True}
        except TokenError as exc:
            return {"ok": False, "error": str(exc)}
    if action == "refresh":
        from rest_framework_simplejwt.serializers import TokenRefreshSerializer
        from rest_framework_simplejwt.tokens import AccessToken

        serializer = TokenRefreshSerializer(data={"refresh": args[0]})
        serializer.is_valid(raise_exception=True)
        access = serializer.validated_data["access"]
        return {"access": access, "claims": AccessToken(access).payload}
    if action == "totp":
        import time

        at = time.time() + 30 * int(args[1])
        return {"code": pyotp.TOTP(args[0]).at(at)}
    if action == "admin_pages":
        admin = User.objects.filter(username="proof-admin").first()
        if admin is None:
            admin = User.objects.create_superuser("proof-admin", "", "proof-admin-pass-1")
        client = Client()
        client.force_login(admin)
        listing = client.get("/admin/auth/user/")
        change = client.get(f"/admin/auth/user/{int(args[0])}/change/")
        return {
            "list": listing.status_code,
            "change": change.status_code,
            "listed": args[1] in listing.content.decode() if len(args) > 1 else None,
        }
    if action == "blacklist":
        from rest_framework_simplejwt.tokens import RefreshToken

        RefreshToken(args[0]).blacklist()
        return {"ok": True}
    if action == "profile":
        from accounts.models import UserProfile
        from django.contrib.auth.models import Group

        role, _ = Group.objects.get_or_create(name=args[2])
        profile = UserProfile.objects.create(user=user(args[0]), phone="555", profile_picture=args[1])
        profile.roles.add(role)
        return {"id": profile.id}
    if action == "profile_of":
        from accounts.models import UserProfile

        p = UserProfile.objects.get(user=user(args[0]))
        return {
            "phone": p.phone,
            "bio": p.bio,
            "picture": p.profile_picture.name if p.profile_picture else None,
            "roles": sorted(r.name for r in p.roles.all()),
        }
    if action == "extras":
        # What an import must carry besides users: a province on a
        # profile, a direct permission, a group permission, a membership.
        from accounts.models import Provinces, UserProfile
        from django.contrib.auth.models import Group, Permission

        owner, member, group_name = args
        province, _ = Provinces.objects.get_or_create(name="Ontario", code="ON")
        profile = UserProfile.objects.get(user=user(owner))
        profile.province = province
        profile.save()
        user(owner).user_permissions.add(Permission.objects.get(codename="view_user"))
        group = Group.objects.get(name=group_name)
        group.permissions.add(Permission.objects.get(codename="change_group"))
        user(member).groups.add(group)
        return {"province": province.id}
    if action == "drf_logout":
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=user(args[0])).delete()
        return {"ok": True}
    if action == "leave_group":
        from django.contrib.auth.models import Group

        user(args[0]).groups.remove(Group.objects.get(name=args[1]))
        return {"ok": True}
    if action == "delete_user":
        user(args[0]).delete()
        return {"ok": True}
    raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
