"""The differential scenarios (data) and the allow-list of deliberate
differences. See README.md for how to add one.

Conventions
* Names are "<endpoint>.<case>"; every scenario gets its own users, named
  "<who>_<tag>" (tag = 6 hex digits derived from the scenario name), so
  scenarios never share state and names are the same on both servers and in
  every run.
* Strings may reference context variables as {{who.attr}}: who.username,
  who.email, who.password, who.id, who.uid (base64url of the id),
  who.token (after Login), who.access / who.refresh (after Jwt),
  who.<kind>.uid / who.<kind>.token (after MailLink), tag, and any name set
  by Mint, harness.SetVar or a step's save=. Var("x") inserts the raw typed value.
"""

from __future__ import annotations

from harness import (Admin, Call, Expected, Jwt, Login, MailLink, Mint, Req, Scenario, User,
                     Var)

# ---------------------------------------------------------------------------
# Settings profiles: one server pair per profile. Values are Djoser setting
# names; they reach both servers as DOORMAN_DJOSER__<NAME>=true|false.
# ---------------------------------------------------------------------------

PROFILES: dict[str, dict] = {
    "default": {},
    "activation": {"SEND_ACTIVATION_EMAIL": True, "SEND_CONFIRMATION_EMAIL": True},
    "confirmation_only": {"SEND_CONFIRMATION_EMAIL": True},
    "retype": {
        "USER_CREATE_PASSWORD_RETYPE": True,
        "SET_PASSWORD_RETYPE": True,
        "PASSWORD_RESET_CONFIRM_RETYPE": True,
        "SET_USERNAME_RETYPE": True,
        "USERNAME_RESET_CONFIRM_RETYPE": True,
    },
    "show_users": {"HIDE_USERS": False},
    # Same settings as default; its own server so that the user list is small.
    "staff": {},
    "email_not_found": {
        "PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND": True,
        "USERNAME_RESET_SHOW_EMAIL_NOT_FOUND": True,
    },
    "password_reset_not_found_only": {"PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND": True},
    "logout_on_password_change": {"LOGOUT_ON_PASSWORD_CHANGE": True},
    "changed_emails": {
        "PASSWORD_CHANGED_EMAIL_CONFIRMATION": True,
        "USERNAME_CHANGED_EMAIL_CONFIRMATION": True,
    },
}

SCENARIOS: list[Scenario] = []
_profile = "default"


def profile(name: str) -> None:
    """Scenarios defined after this call belong to profile `name`."""
    global _profile
    assert name in PROFILES, name
    _profile = name


def S(name, *steps, setup=(), mail=False, doc=""):
    assert all(s.name != name for s in SCENARIOS), f"duplicate scenario {name}"
    SCENARIOS.append(Scenario(name, _profile, list(steps), list(setup), mail, doc))


# -- request helpers ---------------------------------------------------------


def _auth(auth):
    if auth is None:
        return {}
    if isinstance(auth, dict):
        return auth
    if auth.startswith("jwt:"):
        return {"Authorization": "Bearer {{%s.access}}" % auth[4:]}
    return {"Authorization": "Token {{%s.token}}" % auth}


def req(method, path, auth=None, headers=None, **kw):
    h = dict(_auth(auth))
    h.update(headers or {})
    return Req(method, path, headers=h, **kw)


def get(path, auth=None, **kw):
    return req("GET", path, auth, **kw)


def post(path, body=None, auth=None, **kw):
    if body is not None:
        kw["json"] = body
    return req("POST", path, auth, **kw)


def put(path, body=None, auth=None, **kw):
    if body is not None:
        kw["json"] = body
    return req("PUT", path, auth, **kw)


def patch(path, body=None, auth=None, **kw):
    if body is not None:
        kw["json"] = body
    return req("PATCH", path, auth, **kw)


def delete(path, body=None, auth=None, **kw):
    if body is not None:
        kw["json"] = body
    return req("DELETE", path, auth, **kw)


def UN(who):
    """The deterministic username of a user registered inside a step."""
    return "%s_{{tag}}" % who


def EM(who):
    return "%s_{{tag}}@example.com" % who


def creds(who):
    return {"username": "{{%s.username}}" % who, "password": "{{%s.password}}" % who}


PW = "Kx9#mQ2$vL7!pR4w"  # the password of every registered user
NEW_PW = "Zt5&wQ8*nB3^hY6c"
UNKNOWN_TOKEN = "0" * 40
GARBAGE_JWT = "not.a.jwt"
BAD_UID = "!!!not-base64!!!"
UID_999999 = "OTk5OTk5"  # base64url("999999")
UID_ABC = "YWJj"  # base64url("abc")
BAD_LINK_TOKEN = "abc123-0123456789abcdef0123456789abcdef"
LOGGED_IN = [User("alice"), Login("alice")]
LOGGED_IN_JWT = [User("alice"), Login("alice"), Jwt("alice")]


def reset_link(who="alice", kind="password_reset"):
    """Setup: ask for a reset e-mail and read its link."""
    path = "users/reset_password/" if kind == "password_reset" else "users/reset_username/"
    return [Call(post(path, {"email": "{{%s.email}}" % who}), expect=204),
            MailLink(who, kind)]


def body_variants(name, path, good: dict, auth=None, setup=(), fields=None):
    """The usual field-error family for a JSON endpoint: {} / blank / null /
    wrong types / JSON array / malformed JSON / text/plain / form body."""
    fields = fields or list(good)
    S(f"{name}.missing_fields", post(path, {}, auth), setup=setup)
    S(f"{name}.blank_fields", post(path, {f: "" for f in fields}, auth), setup=setup)
    S(f"{name}.null_fields", post(path, {f: None for f in fields}, auth), setup=setup)
    S(f"{name}.wrong_types",
      post(path, {f: ([1, 2] if i % 2 == 0 else {"a": 1}) for i, f in enumerate(fields)}, auth),
      setup=setup)
    S(f"{name}.json_array", post(path, [good], auth), setup=setup)
    S(f"{name}.malformed_json",
      req("POST", path, auth, raw='{"%s": ' % fields[0], content_type="application/json"),
      setup=setup)
    S(f"{name}.text_plain",
      req("POST", path, auth, raw="%s=x" % fields[0], content_type="text/plain"), setup=setup)
    S(f"{name}.form_body", req("POST", path, auth, form=good), setup=setup)


# ===========================================================================
# default profile
# ===========================================================================
profile("default")

S("root.get", get(""), doc="API root of the router")
S("root.get_authenticated", get("", "alice"), setup=LOGGED_IN)

# -- POST users/ (register) --------------------------------------------------
S("register.ok", post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW}),
  post("token/login/", {"username": UN("alice"), "password": PW}))
S("register.ok_form", req("POST", "users/", form={
    "username": UN("alice"), "email": EM("alice"), "password": PW}))
S("register.ok_multipart", req("POST", "users/", multipart={
    "username": UN("alice"), "email": EM("alice"), "password": PW}))
S("register.ok_without_email", post("users/", {"username": UN("alice"), "password": PW}))
S("register.ok_blank_email", post("users/", {"username": UN("alice"), "email": "", "password": PW}))
S("register.ok_unicode_username",
  post("users/", {"username": "ñandú_{{tag}}", "email": EM("alice"), "password": PW}))
S("register.ok_numeric_username", post("users/", {"username": Var("tagnum"), "password": PW}),
  doc="numbers are coerced to strings")
S("register.ok_extra_keys_ignored",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW,
                  "is_staff": True, "is_superuser": True, "id": 424242}),
  post("token/login/", {"username": UN("alice"), "password": PW}, save={"t": "auth_token"}),
  get("users/", {"Authorization": "Token {{t}}"}))
S("register.ok_password_trimmed",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": "  " + PW + "  "}),
  post("token/login/", {"username": UN("alice"), "password": PW}),
  post("token/login/", {"username": UN("alice"), "password": " " + PW}))
S("register.ok_authenticated_caller",
  post("users/", {"username": UN("bob"), "email": EM("bob"), "password": PW}, "alice"),
  setup=LOGGED_IN)
S("register.ok_format_suffix",
  post("users.json", {"username": UN("alice"), "email": EM("alice"), "password": PW}))
body_variants("register", "users/", {"username": UN("alice"), "email": EM("alice"), "password": PW})
S("register.whitespace_fields", post("users/", {"username": "   ", "email": "  ", "password": "   "}))
S("register.json_string_body", post("users/", "just a string"))
S("register.no_content_type", req("POST", "users/", raw=b'{"username": "x"}'))
S("register.empty_body_json_type", req("POST", "users/", raw=b"", content_type="application/json"))
S("register.accept_html",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW},
       headers={"Accept": "text/html"}))
S("register.invalid_utf8_json",
  req("POST", "users/", raw=b'{"username": "\xff\xfe"}', content_type="application/json"))
S("register.multipart_without_boundary",
  req("POST", "users/", raw=b"username=x", content_type="multipart/form-data"))
S("register.form_charset", req("POST", "users/", form={
    "username": UN("alice"), "email": EM("alice"), "password": PW},
    content_type="application/x-www-form-urlencoded; charset=utf-8"))
S("register.json_charset", post("users/", {"username": UN("alice"), "email": EM("alice"),
                                           "password": PW},
                                content_type="application/json; charset=utf-8"))
S("register.duplicate_email_other_case",
  post("users/", {"username": UN("bob"), "email": "ALICE_{{tag}}@EXAMPLE.COM", "password": PW}),
  setup=[User("alice")])
S("register.bad_username_chars",
  post("users/", {"username": "bad name!{{tag}}", "email": EM("alice"), "password": PW}))
S("register.username_too_long",
  post("users/", {"username": "u" * 151, "email": EM("alice"), "password": PW}))
S("register.username_taken",
  post("users/", {"username": "{{alice.username}}", "email": EM("bob"), "password": PW}),
  setup=[User("alice")])
S("register.email_invalid",
  post("users/", {"username": UN("alice"), "email": "not-an-email", "password": PW}))
S("register.email_too_long",
  post("users/", {"username": UN("alice"), "email": "e" * 250 + "@example.com", "password": PW}))
S("register.duplicate_email",
  post("users/", {"username": UN("bob"), "email": "{{alice.email}}", "password": PW}),
  setup=[User("alice")])
S("register.password_too_short",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": "Ab1!x"}))
S("register.password_common",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": "password"}))
S("register.password_numeric",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": "90210736458"}))
S("register.password_all_validators",
  post("users/", {"username": "1234_{{tag}}", "email": EM("alice"), "password": "1234"}))
S("register.password_similar_username",
  post("users/", {"username": "marmalade{{tag}}", "email": EM("alice"),
                  "password": "marmalade{{tag}}"}))
S("register.password_similar_email",
  post("users/", {"username": UN("alice"), "email": "quixotic{{tag}}@example.com",
                  "password": "quixotic{{tag}}"}))
S("register.password_and_username_errors",
  post("users/", {"username": "bad name!", "email": "nope", "password": "1"}))
S("register.bad_token_header",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW},
       {"Authorization": "Token " + UNKNOWN_TOKEN}))
S("register.noslash", post("/auth/users", {"username": UN("alice"), "email": EM("alice"),
                                           "password": PW}))

# -- GET users/ and other methods on the list ---------------------------------
S("users.list_anonymous", get("users/"))
S("users.list_token", get("users/", "alice"), setup=LOGGED_IN)
S("users.list_bearer", get("users/", "jwt:alice"), setup=LOGGED_IN_JWT)
S("users.list_format_json", get("users/?format=json", "alice"), setup=LOGGED_IN)
S("users.list_accept_html", get("users/", "alice", headers={"Accept": "text/html"}),
  setup=LOGGED_IN)
S("users.list_format_unknown", get("users/?format=xml", "alice"), setup=LOGGED_IN)
S("users.list_format_unknown_encoded", get("users/?%66ormat=xml", "alice"), setup=LOGGED_IN)
S("users.list_format_suffix_unknown", get("users.xml", "alice"), setup=LOGGED_IN)
S("users.head", req("HEAD", "users/", "alice"), setup=LOGGED_IN)
S("users.head_anonymous", req("HEAD", "users/"))
S("users.options_anonymous", req("OPTIONS", "users/"))
S("users.options", req("OPTIONS", "users/", "alice"), setup=LOGGED_IN)
S("users.put_anonymous", put("users/", {}))
S("users.put", put("users/", {}, "alice"), setup=LOGGED_IN)
S("users.patch", patch("users/", {}, "alice"), setup=LOGGED_IN)
S("users.delete", delete("users/", None, "alice"), setup=LOGGED_IN)
S("users.noslash", get("/auth/users", "alice"), setup=LOGGED_IN)

# -- Authorization header handling (probed on GET users/me/) -------------------
S("auth.token_ok", get("users/me/", "alice"), setup=LOGGED_IN)
S("auth.bearer_ok", get("users/me/", "jwt:alice"), setup=LOGGED_IN_JWT)
S("auth.token_lowercase_scheme", get("users/me/", {"Authorization": "token {{alice.token}}"}),
  setup=LOGGED_IN)
S("auth.token_uppercase_scheme", get("users/me/", {"Authorization": "TOKEN {{alice.token}}"}),
  setup=LOGGED_IN)
S("auth.bearer_lowercase_scheme", get("users/me/", {"Authorization": "bearer {{alice.access}}"}),
  setup=LOGGED_IN_JWT)
S("auth.jwt_scheme", get("users/me/", {"Authorization": "JWT {{alice.access}}"}),
  setup=LOGGED_IN_JWT)
S("auth.basic_scheme", get("users/me/", {"Authorization": "Basic YWxpY2U6c2VjcmV0"}))
S("auth.empty_header", get("users/me/", {"Authorization": ""}))
S("auth.token_without_key", get("users/me/", {"Authorization": "Token"}))
S("auth.token_with_spaces", get("users/me/", {"Authorization": "Token abc def"}))
S("auth.token_unknown", get("users/me/", {"Authorization": "Token " + UNKNOWN_TOKEN}))
S("auth.token_short", get("users/me/", {"Authorization": "Token abc"}))
S("auth.token_invalid_bytes", get("users/me/", {"Authorization": b"Token \xff\xfe\xfd"}))
S("auth.token_is_a_jwt", get("users/me/", {"Authorization": "Token {{alice.access}}"}),
  setup=LOGGED_IN_JWT)
S("auth.bearer_is_a_token", get("users/me/", {"Authorization": "Bearer {{alice.token}}"}),
  setup=LOGGED_IN)
S("auth.bearer_without_token", get("users/me/", {"Authorization": "Bearer"}))
S("auth.bearer_with_spaces", get("users/me/", {"Authorization": "Bearer abc def"}))
S("auth.bearer_garbage", get("users/me/", {"Authorization": "Bearer " + GARBAGE_JWT}))
S("auth.bearer_invalid_bytes", get("users/me/", {"Authorization": b"Bearer \xff\xfe\xfd"}))
S("auth.bearer_refresh_token", get("users/me/", {"Authorization": "Bearer {{alice.refresh}}"}),
  setup=LOGGED_IN_JWT)
S("auth.bearer_expired", get("users/me/", {"Authorization": "Bearer {{expired}}"}),
  setup=[User("alice"), Mint("expired", user="alice", exp=-60)])
S("auth.bearer_wrong_key", get("users/me/", {"Authorization": "Bearer {{forged}}"}),
  setup=[User("alice"), Mint("forged", user="alice", secret="some-other-key")])
S("auth.bearer_no_user_id", get("users/me/", {"Authorization": "Bearer {{anon}}"}),
  setup=[Mint("anon", omit=("user_id",))])
S("auth.bearer_unknown_user", get("users/me/", {"Authorization": "Bearer {{ghost}}"}),
  setup=[Mint("ghost", user_id="999999")])
S("auth.bearer_no_jti", get("users/me/", {"Authorization": "Bearer {{nojti}}"}),
  setup=[User("alice"), Mint("nojti", user="alice", omit=("jti",))])
S("auth.bearer_no_token_type", get("users/me/", {"Authorization": "Bearer {{notype}}"}),
  setup=[User("alice"), Mint("notype", user="alice", omit=("token_type",))])
S("auth.bearer_no_exp", get("users/me/", {"Authorization": "Bearer {{noexp}}"}),
  setup=[User("alice"), Mint("noexp", user="alice", omit=("exp",))])
S("auth.bearer_minted_ok", get("users/me/", {"Authorization": "Bearer {{minted}}"}),
  setup=[User("alice"), Mint("minted", user="alice")],
  doc="a JWT built by the harness with the shared key is accepted")
S("auth.bearer_integer_user_id", get("users/me/", {"Authorization": "Bearer {{intid}}"}),
  setup=[User("alice"), Mint("intid", user="alice", extra={"user_id": Var("alice.id")})])

# -- users/{id}/ -------------------------------------------------------------------
S("user.get_own", get("users/{{alice.id}}/", "alice"), setup=LOGGED_IN)
S("user.get_own_bearer", get("users/{{alice.id}}/", "jwt:alice"), setup=LOGGED_IN_JWT)
S("user.get_anonymous", get("users/{{alice.id}}/"), setup=[User("alice")])
S("user.get_other_hidden", get("users/{{bob.id}}/", "alice"), setup=LOGGED_IN + [User("bob")])
S("user.get_missing", get("users/999999/", "alice"), setup=LOGGED_IN)
S("user.get_non_numeric", get("users/abc/", "alice"), setup=LOGGED_IN)
S("user.get_admin_other", get("users/{{alice.id}}/", "admin"), setup=[User("alice"), Admin()])
S("user.head_own", req("HEAD", "users/{{alice.id}}/", "alice"), setup=LOGGED_IN)
S("user.options_own", req("OPTIONS", "users/{{alice.id}}/", "alice"), setup=LOGGED_IN)
S("user.patch_own_email", patch("users/{{alice.id}}/", {"email": EM("alice2")}, "alice"),
  setup=LOGGED_IN)
S("user.put_own_empty", put("users/{{alice.id}}/", {}, "alice"), setup=LOGGED_IN)
S("user.patch_own_invalid_email", patch("users/{{alice.id}}/", {"email": "nope"}, "alice"),
  setup=LOGGED_IN)
S("user.patch_own_username_ignored",
  patch("users/{{alice.id}}/", {"username": UN("renamed")}, "alice"), setup=LOGGED_IN)
S("user.patch_other_hidden", patch("users/{{bob.id}}/", {"email": EM("x")}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("user.put_other_hidden", put("users/{{bob.id}}/", {}, "alice"), setup=LOGGED_IN + [User("bob")])
S("user.patch_admin_other", patch("users/{{alice.id}}/", {"email": EM("alice3")}, "admin"),
  setup=[User("alice"), Admin()])
S("user.delete_own_missing_password", delete("users/{{alice.id}}/", None, "alice"),
  setup=LOGGED_IN)
S("user.delete_own_wrong_password",
  delete("users/{{alice.id}}/", {"current_password": "wrong"}, "alice"), setup=LOGGED_IN)
S("user.delete_own",
  delete("users/{{alice.id}}/", {"current_password": PW}, "alice"),
  get("users/me/", "alice"), setup=LOGGED_IN)
S("user.delete_other", delete("users/{{bob.id}}/", {"current_password": PW}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("user.delete_missing", delete("users/999999/", {"current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("user.delete_anonymous", delete("users/{{alice.id}}/", {"current_password": PW}),
  setup=[User("alice")])
S("user.delete_admin_other",
  delete("users/{{alice.id}}/", {"current_password": "{{admin.password}}"}, "admin"),
  get("users/{{alice.id}}/", "admin"), setup=[User("alice"), Admin()])
S("user.post", post("users/{{alice.id}}/", {}, "alice"), setup=LOGGED_IN)
S("user.noslash", get("/auth/users/{{alice.id}}", "alice"), setup=LOGGED_IN)

# -- users/me/ ---------------------------------------------------------------------
S("me.get_anonymous", get("users/me/"))
S("me.get_token", get("users/me/", "alice"), setup=LOGGED_IN)
S("me.get_bearer", get("users/me/", "jwt:alice"), setup=LOGGED_IN_JWT)
S("me.put_empty", put("users/me/", {}, "alice"), setup=LOGGED_IN)
S("me.patch_email", patch("users/me/", {"email": EM("alice2")}, "alice"),
  get("users/me/", "alice"), setup=LOGGED_IN)
S("me.patch_email_invalid", patch("users/me/", {"email": "nope"}, "alice"), setup=LOGGED_IN)
S("me.patch_email_blank", patch("users/me/", {"email": ""}, "alice"), setup=LOGGED_IN)
S("me.patch_email_null", patch("users/me/", {"email": None}, "alice"), setup=LOGGED_IN)
S("me.patch_username_ignored", patch("users/me/", {"username": UN("renamed")}, "alice"),
  setup=LOGGED_IN)
S("me.patch_form", req("PATCH", "users/me/", "alice", form={"email": EM("alice2")}),
  setup=LOGGED_IN)
S("me.patch_json_array", patch("users/me/", [{"email": EM("alice2")}], "alice"), setup=LOGGED_IN)
S("me.patch_malformed_json",
  req("PATCH", "users/me/", "alice", raw='{"email":', content_type="application/json"),
  setup=LOGGED_IN)
S("me.patch_anonymous", patch("users/me/", {"email": EM("alice2")}))
S("me.delete_missing_password", delete("users/me/", None, "alice"), setup=LOGGED_IN)
S("me.delete_blank_password", delete("users/me/", {"current_password": ""}, "alice"),
  setup=LOGGED_IN)
S("me.delete_wrong_password", delete("users/me/", {"current_password": "wrong"}, "alice"),
  setup=LOGGED_IN)
S("me.delete_anonymous", delete("users/me/", {"current_password": PW}))
S("me.delete",
  delete("users/me/", {"current_password": PW}, "alice"),
  get("users/me/", "alice"),
  get("users/me/", "jwt:alice"),
  post("token/login/", {"username": "{{alice.username}}", "password": PW}),
  post("jwt/verify/", {"token": "{{alice.access}}"}),
  setup=LOGGED_IN_JWT)
S("me.delete_bearer", delete("users/me/", {"current_password": PW}, "jwt:alice"),
  setup=LOGGED_IN_JWT)
S("me.post", post("users/me/", {}, "alice"), setup=LOGGED_IN)
S("me.options", req("OPTIONS", "users/me/", "alice"), setup=LOGGED_IN)
S("me.head", req("HEAD", "users/me/", "alice"), setup=LOGGED_IN)
S("me.options_anonymous", req("OPTIONS", "users/me/"))
S("me.head_anonymous", req("HEAD", "users/me/"))
S("me.noslash", get("/auth/users/me", "alice"), setup=LOGGED_IN)

# -- users/activation/ (activation e-mails are off here) ---------------------------
body_variants("activation", "users/activation/", {"uid": "MQ", "token": BAD_LINK_TOKEN})
S("activation.garbage_uid", post("users/activation/", {"uid": BAD_UID, "token": BAD_LINK_TOKEN}))
S("activation.unknown_uid", post("users/activation/", {"uid": UID_999999, "token": BAD_LINK_TOKEN}))
S("activation.non_numeric_uid", post("users/activation/", {"uid": UID_ABC, "token": BAD_LINK_TOKEN}))
S("activation.bad_token",
  post("users/activation/", {"uid": "{{alice.uid}}", "token": BAD_LINK_TOKEN}),
  setup=[User("alice")])
S("activation.garbage_token",
  post("users/activation/", {"uid": "{{alice.uid}}", "token": "x"}), setup=[User("alice")])
S("activation.integer_uid",
  post("users/activation/", {"uid": Var("alice.id"), "token": BAD_LINK_TOKEN}),
  setup=[User("alice")])
S("activation.already_active_with_reset_token",
  post("users/activation/", {"uid": "{{alice.password_reset.uid}}",
                             "token": "{{alice.password_reset.token}}"}),
  setup=[User("alice")] + reset_link(),
  doc="a password-reset token is a valid activation token (same generator); the user is active")
S("activation.form_garbage", req("POST", "users/activation/", form={"uid": BAD_UID, "token": "x"}))
S("activation.get_anonymous", get("users/activation/"))
S("activation.get", get("users/activation/", "alice"), setup=LOGGED_IN)
S("activation.options_anonymous", req("OPTIONS", "users/activation/"))
S("activation.put", put("users/activation/", {}, "alice"), setup=LOGGED_IN)
S("activation.bad_token_header",
  post("users/activation/", {"uid": BAD_UID, "token": "x"},
       {"Authorization": "Token " + UNKNOWN_TOKEN}))
S("activation.noslash", post("/auth/users/activation", {"uid": BAD_UID, "token": "x"}))

# -- users/resend_activation/ (activation off: bare 400) ---------------------------
S("resend.disabled_known_email", post("users/resend_activation/", {"email": "{{alice.email}}"}),
  setup=[User("alice")], mail=True)
S("resend.disabled_unknown_email",
  post("users/resend_activation/", {"email": "nobody_{{tag}}@example.com"}))
body_variants("resend", "users/resend_activation/", {"email": EM("x")})
S("resend.invalid_email", post("users/resend_activation/", {"email": "nope"}))
S("resend.get_anonymous", get("users/resend_activation/"))
S("resend.noslash", post("/auth/users/resend_activation", {"email": EM("x")}))

# -- users/set_password/ ---------------------------------------------------------
S("set_password.ok",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}, "alice"),
  post("token/login/", {"username": "{{alice.username}}", "password": NEW_PW}),
  post("token/login/", {"username": "{{alice.username}}", "password": PW}),
  get("users/me/", "alice"),
  setup=LOGGED_IN, mail=True)
S("set_password.ok_bearer",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}, "jwt:alice"),
  get("users/me/", "jwt:alice"),
  setup=LOGGED_IN_JWT)
S("set_password.ok_form",
  req("POST", "users/set_password/", "alice",
      form={"new_password": NEW_PW, "current_password": PW}),
  setup=LOGGED_IN)
S("set_password.ok_same_password",
  post("users/set_password/", {"new_password": PW, "current_password": PW}, "alice"),
  setup=LOGGED_IN)
body_variants("set_password", "users/set_password/",
              {"new_password": NEW_PW, "current_password": PW}, auth="alice", setup=LOGGED_IN)
S("set_password.wrong_current",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": "wrong"}, "alice"),
  setup=LOGGED_IN)
S("set_password.wrong_current_and_weak_new",
  post("users/set_password/", {"new_password": "1", "current_password": "wrong"}, "alice"),
  setup=LOGGED_IN)
S("set_password.weak_new",
  post("users/set_password/", {"new_password": "1234", "current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("set_password.common_new",
  post("users/set_password/", {"new_password": "password1", "current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("set_password.similar_to_username",
  post("users/set_password/", {"new_password": "{{alice.username}}", "current_password": PW},
       "alice"),
  setup=LOGGED_IN)
S("set_password.similar_to_email",
  post("users/set_password/", {"new_password": "{{alice.email}}", "current_password": PW},
       "alice"),
  setup=LOGGED_IN)
S("set_password.missing_current",
  post("users/set_password/", {"new_password": NEW_PW}, "alice"), setup=LOGGED_IN)
S("set_password.anonymous",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}))
S("set_password.get", get("users/set_password/", "alice"), setup=LOGGED_IN)
S("set_password.get_anonymous", get("users/set_password/"))
S("set_password.noslash",
  post("/auth/users/set_password", {"new_password": NEW_PW, "current_password": PW}, "alice"),
  setup=LOGGED_IN)

# -- users/reset_password/ ---------------------------------------------------------
S("reset_password.ok", post("users/reset_password/", {"email": "{{alice.email}}"}),
  setup=[User("alice")], mail=True)
S("reset_password.unknown_email",
  post("users/reset_password/", {"email": "nobody_{{tag}}@example.com"}), mail=True)
S("reset_password.email_other_case",
  post("users/reset_password/", {"email": "ALICE_{{tag}}@EXAMPLE.COM"}),
  setup=[User("alice")], mail=True)
S("reset_password.user_without_email",
  post("users/reset_password/", {"email": ""}), setup=[User("alice", email="")])
S("reset_password.duplicate_email",
  post("users/reset_password/", {"email": "{{alice.email}}"}),
  setup=[User("alice"), User("bob", email="{{alice.email}}", expect=None)])
body_variants("reset_password", "users/reset_password/", {"email": EM("x")})
S("reset_password.invalid_email", post("users/reset_password/", {"email": "nope"}))
S("reset_password.authenticated", post("users/reset_password/", {"email": "{{alice.email}}"},
                                       "alice"), setup=LOGGED_IN, mail=True)
S("reset_password.bad_token_header",
  post("users/reset_password/", {"email": EM("x")}, {"Authorization": "Token " + UNKNOWN_TOKEN}))
S("reset_password.get_anonymous", get("users/reset_password/"))
S("reset_password.noslash", post("/auth/users/reset_password", {"email": EM("x")}))

# -- users/reset_password_confirm/ ---------------------------------------------------
RPC = "users/reset_password_confirm/"


def rpc_body(pw=NEW_PW, who="alice"):
    return {"uid": "{{%s.password_reset.uid}}" % who,
            "token": "{{%s.password_reset.token}}" % who, "new_password": pw}


S("reset_password_confirm.ok",
  post(RPC, rpc_body()),
  post("token/login/", {"username": "{{alice.username}}", "password": NEW_PW}),
  post(RPC, rpc_body("Another-Pass-9x")),
  get("users/me/", "alice"),
  setup=LOGGED_IN + reset_link(), mail=True,
  doc="step 4: Djoser leaves the DRF token alive; doorman revokes sessions")
S("reset_password_confirm.ok_form", req("POST", RPC, form=rpc_body()),
  setup=[User("alice")] + reset_link())
body_variants("reset_password_confirm", RPC,
              {"uid": "MQ", "token": BAD_LINK_TOKEN, "new_password": NEW_PW})
S("reset_password_confirm.garbage_uid",
  post(RPC, {"uid": BAD_UID, "token": BAD_LINK_TOKEN, "new_password": NEW_PW}))
S("reset_password_confirm.unknown_uid",
  post(RPC, {"uid": UID_999999, "token": BAD_LINK_TOKEN, "new_password": NEW_PW}))
S("reset_password_confirm.non_numeric_uid",
  post(RPC, {"uid": UID_ABC, "token": BAD_LINK_TOKEN, "new_password": NEW_PW}))
S("reset_password_confirm.bad_token",
  post(RPC, {"uid": "{{alice.uid}}", "token": BAD_LINK_TOKEN, "new_password": NEW_PW}),
  setup=[User("alice")])
S("reset_password_confirm.integer_uid",
  post(RPC, {"uid": Var("alice.id"), "token": BAD_LINK_TOKEN, "new_password": NEW_PW}),
  setup=[User("alice")])
S("reset_password_confirm.weak_password_and_bad_uid",
  post(RPC, {"uid": BAD_UID, "token": "x", "new_password": "123"}))
S("reset_password_confirm.weak_password",
  post(RPC, rpc_body("1234")), setup=[User("alice")] + reset_link())
S("reset_password_confirm.password_similar_to_email",
  post(RPC, rpc_body("{{alice.email}}")), setup=[User("alice")] + reset_link(),
  doc="Djoser validates against the anonymous user, so similarity is not checked")
S("reset_password_confirm.token_dead_after_login",
  post(RPC, rpc_body()), setup=[User("alice")] + reset_link() + [Login("alice")])
S("reset_password_confirm.token_of_other_user",
  post(RPC, {"uid": "{{bob.uid}}", "token": "{{alice.password_reset.token}}",
             "new_password": NEW_PW}),
  setup=[User("alice"), User("bob")] + reset_link())
S("reset_password_confirm.get_anonymous", get(RPC))
S("reset_password_confirm.noslash",
  post("/auth/users/reset_password_confirm", {"uid": BAD_UID, "token": "x", "new_password": NEW_PW}))

# -- users/set_username/ ---------------------------------------------------------
SU = "users/set_username/"
S("set_username.ok",
  post(SU, {"new_username": UN("renamed"), "current_password": PW}, "alice"),
  post("token/login/", {"username": UN("renamed"), "password": PW}),
  post("token/login/", {"username": "{{alice.username}}", "password": PW}),
  get("users/me/", "alice"),
  setup=LOGGED_IN, mail=True)
S("set_username.ok_bearer",
  post(SU, {"new_username": UN("renamed"), "current_password": PW}, "jwt:alice"),
  setup=LOGGED_IN_JWT)
body_variants("set_username", SU, {"new_username": UN("renamed"), "current_password": PW},
              auth="alice", setup=LOGGED_IN)
S("set_username.same_as_current",
  post(SU, {"new_username": "{{alice.username}}", "current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("set_username.taken",
  post(SU, {"new_username": "{{bob.username}}", "current_password": PW}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("set_username.invalid_chars",
  post(SU, {"new_username": "no spaces allowed", "current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("set_username.too_long",
  post(SU, {"new_username": "n" * 151, "current_password": PW}, "alice"), setup=LOGGED_IN)
S("set_username.wrong_password",
  post(SU, {"new_username": UN("renamed"), "current_password": "wrong"}, "alice"),
  setup=LOGGED_IN)
S("set_username.wrong_password_and_taken",
  post(SU, {"new_username": "{{bob.username}}", "current_password": "wrong"}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("set_username.anonymous", post(SU, {"new_username": UN("renamed"), "current_password": PW}))
S("set_username.get", get(SU, "alice"), setup=LOGGED_IN)
S("set_username.noslash",
  post("/auth/users/set_username", {"new_username": UN("renamed"), "current_password": PW},
       "alice"), setup=LOGGED_IN)

# -- users/reset_username/ ---------------------------------------------------------
S("reset_username.ok", post("users/reset_username/", {"email": "{{alice.email}}"}),
  setup=[User("alice")], mail=True)
S("reset_username.unknown_email",
  post("users/reset_username/", {"email": "nobody_{{tag}}@example.com"}), mail=True)
S("reset_username.email_other_case",
  post("users/reset_username/", {"email": "ALICE_{{tag}}@EXAMPLE.COM"}),
  setup=[User("alice")], mail=True)
body_variants("reset_username", "users/reset_username/", {"email": EM("x")})
S("reset_username.invalid_email", post("users/reset_username/", {"email": "nope"}))
S("reset_username.get_anonymous", get("users/reset_username/"))
S("reset_username.noslash", post("/auth/users/reset_username", {"email": EM("x")}))

# -- users/reset_username_confirm/ ---------------------------------------------------
RUC = "users/reset_username_confirm/"


def ruc_body(new=None, who="alice"):
    return {"uid": "{{%s.username_reset.uid}}" % who, "token": "{{%s.username_reset.token}}" % who,
            "new_username": new or UN("renamed")}


S("reset_username_confirm.ok",
  post(RUC, ruc_body()),
  post("token/login/", {"username": UN("renamed"), "password": PW}),
  post(RUC, ruc_body(UN("again"))),
  setup=[User("alice")] + reset_link(kind="username_reset"), mail=True)
body_variants("reset_username_confirm", RUC,
              {"uid": "MQ", "token": BAD_LINK_TOKEN, "new_username": UN("renamed")})
S("reset_username_confirm.only_new_username", post(RUC, {"new_username": UN("renamed")}))
S("reset_username_confirm.blank_uid_and_token",
  post(RUC, {"uid": "", "token": "", "new_username": UN("renamed")}))
S("reset_username_confirm.null_uid_and_token",
  post(RUC, {"uid": None, "token": None, "new_username": UN("renamed")}))
S("reset_username_confirm.garbage_uid",
  post(RUC, {"uid": BAD_UID, "token": BAD_LINK_TOKEN, "new_username": UN("renamed")}))
S("reset_username_confirm.unknown_uid",
  post(RUC, {"uid": UID_999999, "token": BAD_LINK_TOKEN, "new_username": UN("renamed")}))
S("reset_username_confirm.bad_token",
  post(RUC, {"uid": "{{alice.uid}}", "token": BAD_LINK_TOKEN, "new_username": UN("renamed")}),
  setup=[User("alice")])
S("reset_username_confirm.missing_token",
  post(RUC, {"uid": "{{alice.uid}}", "new_username": UN("renamed")}), setup=[User("alice")])
S("reset_username_confirm.integer_uid",
  post(RUC, {"uid": Var("alice.id"), "token": BAD_LINK_TOKEN, "new_username": UN("renamed")}),
  setup=[User("alice")])
S("reset_username_confirm.taken",
  post(RUC, ruc_body("{{bob.username}}")),
  setup=[User("alice"), User("bob")] + reset_link(kind="username_reset"))
S("reset_username_confirm.invalid_username",
  post(RUC, ruc_body("has spaces")), setup=[User("alice")] + reset_link(kind="username_reset"))
S("reset_username_confirm.get_anonymous", get(RUC))
S("reset_username_confirm.noslash",
  post("/auth/users/reset_username_confirm", {"uid": BAD_UID, "token": "x",
                                              "new_username": UN("renamed")}))

# -- token/login/ -----------------------------------------------------------------
S("token_login.ok", post("token/login/", creds("alice")), setup=[User("alice")])
S("token_login.second_login_same_token", post("token/login/", creds("alice")),
  setup=LOGGED_IN, doc="Djoser: one token per user, repeated logins return it")
S("token_login.ok_form", req("POST", "token/login/", form=creds("alice")), setup=[User("alice")])
S("token_login.ok_multipart", req("POST", "token/login/", multipart=creds("alice")),
  setup=[User("alice")])
S("token_login.ok_padded_password",
  post("token/login/", {"username": "{{alice.username}}", "password": "  " + PW + "  "}),
  setup=[User("alice")])
S("token_login.ok_padded_username",
  post("token/login/", {"username": " {{alice.username}} ", "password": PW}),
  setup=[User("alice")])
S("token_login.ok_while_authenticated_as_other", post("token/login/", creds("bob"), "alice"),
  setup=LOGGED_IN + [User("bob")])
S("token_login.wrong_password",
  post("token/login/", {"username": "{{alice.username}}", "password": "wrong"}),
  setup=[User("alice")])
S("token_login.unknown_user", post("token/login/", {"username": UN("ghost"), "password": PW}))
S("token_login.username_other_case",
  post("token/login/", {"username": "ALICE_{{tag}}", "password": PW}), setup=[User("alice")])
S("token_login.email_as_username",
  post("token/login/", {"username": "{{alice.email}}", "password": PW}), setup=[User("alice")])
S("token_login.only_username", post("token/login/", {"username": "{{alice.username}}"}),
  setup=[User("alice")])
S("token_login.only_password", post("token/login/", {"password": PW}))
body_variants("token_login", "token/login/", {"username": UN("ghost"), "password": PW})
S("token_login.stale_token_header",
  post("token/login/", creds("alice"), {"Authorization": "Token " + UNKNOWN_TOKEN}),
  setup=[User("alice")])
S("token_login.garbage_bearer_header",
  post("token/login/", creds("alice"), {"Authorization": "Bearer " + GARBAGE_JWT}),
  setup=[User("alice")])
S("token_login.get", get("token/login/"))
S("token_login.get_authenticated", get("token/login/", "alice"), setup=LOGGED_IN)
S("token_login.options", req("OPTIONS", "token/login/"))
S("token_login.noslash", post("/auth/token/login", creds("alice")), setup=[User("alice")])

# -- token/logout/ -------------------------------------------------------------------
S("token_logout.ok", post("token/logout/", None, "alice"), get("users/me/", "alice"),
  post("token/logout/", None, "alice"), setup=LOGGED_IN)
S("token_logout.ok_bearer", post("token/logout/", None, "jwt:alice"), get("users/me/", "alice"),
  get("users/me/", "jwt:alice"), setup=LOGGED_IN_JWT)
S("token_logout.ok_with_body", post("token/logout/", {"anything": 1}, "alice"), setup=LOGGED_IN)
S("token_logout.anonymous", post("token/logout/"))
S("token_logout.unknown_token", post("token/logout/", None,
                                     {"Authorization": "Token " + UNKNOWN_TOKEN}))
S("token_logout.get_anonymous", get("token/logout/"))
S("token_logout.get", get("token/logout/", "alice"), setup=LOGGED_IN)
S("token_logout.noslash", post("/auth/token/logout", None, "alice"), setup=LOGGED_IN)

# -- jwt/create/ ---------------------------------------------------------------------
S("jwt_create.ok", post("jwt/create/", creds("alice")), setup=[User("alice")])
S("jwt_create.ok_form", req("POST", "jwt/create/", form=creds("alice")), setup=[User("alice")])
S("jwt_create.ok_garbage_auth_header",
  post("jwt/create/", creds("alice"), {"Authorization": "Bearer " + GARBAGE_JWT}),
  setup=[User("alice")])
S("jwt_create.ok_stale_token_header",
  post("jwt/create/", creds("alice"), {"Authorization": "Token " + UNKNOWN_TOKEN}),
  setup=[User("alice")])
S("jwt_create.wrong_password",
  post("jwt/create/", {"username": "{{alice.username}}", "password": "wrong"}),
  setup=[User("alice")])
S("jwt_create.unknown_user", post("jwt/create/", {"username": UN("ghost"), "password": PW}))
S("jwt_create.email_as_username",
  post("jwt/create/", {"username": "{{alice.email}}", "password": PW}), setup=[User("alice")])
S("jwt_create.only_username", post("jwt/create/", {"username": UN("ghost")}))
body_variants("jwt_create", "jwt/create/", {"username": UN("ghost"), "password": PW})
S("jwt_create.get", get("jwt/create/"))
S("jwt_create.noslash", post("/auth/jwt/create", creds("alice")), setup=[User("alice")])
S("jwt_create.unanchored_suffix", post("/auth/jwt/createx", creds("alice")), setup=[User("alice")],
  doc="Djoser's jwt URL regexes are not anchored at the end")

# -- jwt/refresh/ --------------------------------------------------------------------
S("jwt_refresh.ok", post("jwt/refresh/", {"refresh": "{{alice.refresh}}"}),
  setup=[User("alice"), Jwt("alice")])
S("jwt_refresh.ok_form", req("POST", "jwt/refresh/", form={"refresh": "{{alice.refresh}}"}),
  setup=[User("alice"), Jwt("alice")])
S("jwt_refresh.ok_minted", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[User("alice"), Mint("r", user="alice", token_type="refresh", exp=3600)])
S("jwt_refresh.access_token", post("jwt/refresh/", {"refresh": "{{alice.access}}"}),
  setup=[User("alice"), Jwt("alice")])
S("jwt_refresh.garbage", post("jwt/refresh/", {"refresh": GARBAGE_JWT}))
S("jwt_refresh.expired", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[User("alice"), Mint("r", user="alice", token_type="refresh", exp=-60)])
S("jwt_refresh.wrong_key", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[User("alice"), Mint("r", user="alice", token_type="refresh", secret="other-key")])
S("jwt_refresh.no_jti", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[User("alice"), Mint("r", user="alice", token_type="refresh", omit=("jti",))])
S("jwt_refresh.no_user_id", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[Mint("r", token_type="refresh", omit=("user_id",))])
S("jwt_refresh.unknown_user", post("jwt/refresh/", {"refresh": "{{r}}"}),
  setup=[Mint("r", user_id="999999", token_type="refresh")])
S("jwt_refresh.deleted_user", post("jwt/refresh/", {"refresh": "{{alice.refresh}}"}),
  setup=LOGGED_IN_JWT + [Call(delete("users/me/", {"current_password": PW}, "alice"), 204)])
S("jwt_refresh.only_other_key", post("jwt/refresh/", {"token": "{{alice.refresh}}"}),
  setup=[User("alice"), Jwt("alice")])
body_variants("jwt_refresh", "jwt/refresh/", {"refresh": GARBAGE_JWT})
S("jwt_refresh.get", get("jwt/refresh/"))
S("jwt_refresh.noslash", post("/auth/jwt/refresh", {"refresh": "{{alice.refresh}}"}),
  setup=[User("alice"), Jwt("alice")])

# -- jwt/verify/ ---------------------------------------------------------------------
S("jwt_verify.ok_access", post("jwt/verify/", {"token": "{{alice.access}}"}),
  setup=[User("alice"), Jwt("alice")])
S("jwt_verify.ok_refresh", post("jwt/verify/", {"token": "{{alice.refresh}}"}),
  setup=[User("alice"), Jwt("alice")])
S("jwt_verify.ok_unknown_user", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[Mint("t", user_id="999999")], doc="verify does not look the user up")
S("jwt_verify.garbage", post("jwt/verify/", {"token": GARBAGE_JWT}))
S("jwt_verify.expired", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[User("alice"), Mint("t", user="alice", exp=-60)])
S("jwt_verify.wrong_key", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[User("alice"), Mint("t", user="alice", secret="other-key")])
S("jwt_verify.no_jti", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[User("alice"), Mint("t", user="alice", omit=("jti",))])
S("jwt_verify.no_token_type", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[User("alice"), Mint("t", user="alice", omit=("token_type",))])
S("jwt_verify.unknown_token_type", post("jwt/verify/", {"token": "{{t}}"}),
  setup=[User("alice"), Mint("t", user="alice", token_type="sliding")])
body_variants("jwt_verify", "jwt/verify/", {"token": GARBAGE_JWT})
S("jwt_verify.get", get("jwt/verify/"))
S("jwt_verify.noslash", post("/auth/jwt/verify", {"token": GARBAGE_JWT}))

# ===========================================================================
# activation profile: SEND_ACTIVATION_EMAIL + SEND_CONFIRMATION_EMAIL
# ===========================================================================
profile("activation")

S("activation_flow.register_inactive",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW}),
  post("token/login/", {"username": UN("alice"), "password": PW}),
  post("jwt/create/", {"username": UN("alice"), "password": PW}),
  mail=True)
S("activation_flow.activate",
  post("users/activation/", {"uid": "{{alice.activation.uid}}",
                             "token": "{{alice.activation.token}}"}),
  post("users/activation/", {"uid": "{{alice.activation.uid}}",
                             "token": "{{alice.activation.token}}"}),
  post("token/login/", creds("alice")),
  setup=[User("alice", active=False), MailLink("alice", "activation")], mail=True)
S("activation_flow.activate_form",
  req("POST", "users/activation/", form={"uid": "{{alice.activation.uid}}",
                                        "token": "{{alice.activation.token}}"}),
  setup=[User("alice", active=False), MailLink("alice", "activation")])
S("activation_flow.uid_with_padding",
  post("users/activation/", {"uid": "{{alice.activation.uid}}==",
                             "token": "{{alice.activation.token}}"}),
  setup=[User("alice", active=False), MailLink("alice", "activation")])
S("activation_flow.bad_token_real_uid",
  post("users/activation/", {"uid": "{{alice.activation.uid}}", "token": BAD_LINK_TOKEN}),
  setup=[User("alice", active=False), MailLink("alice", "activation")])
S("activation_flow.token_of_other_user",
  post("users/activation/", {"uid": "{{bob.uid}}", "token": "{{alice.activation.token}}"}),
  setup=[User("alice", active=False), User("bob", active=False), MailLink("alice", "activation")])
S("activation_flow.integer_uid",
  post("users/activation/", {"uid": Var("alice.id"), "token": "{{alice.activation.token}}"}),
  setup=[User("alice", active=False), MailLink("alice", "activation")])
S("activation_flow.login_inactive",
  post("token/login/", creds("alice")), post("jwt/create/", creds("alice")),
  setup=[User("alice", active=False)])
S("activation_flow.resend_inactive",
  post("users/resend_activation/", {"email": "{{alice.email}}"}),
  setup=[User("alice", active=False)], mail=True)
S("activation_flow.resend_then_activate",
  post("users/activation/", {"uid": "{{alice.activation.uid}}",
                             "token": "{{alice.activation.token}}"}),
  setup=[User("alice", active=False), MailLink("alice", "activation", "first"),
         Call(post("users/resend_activation/", {"email": "{{alice.email}}"}), 204),
         MailLink("alice", "activation")], mail=True)
S("activation_flow.resend_active",
  post("users/resend_activation/", {"email": "{{alice.email}}"}),
  setup=[User("alice")], mail=True)
S("activation_flow.resend_unknown",
  post("users/resend_activation/", {"email": "nobody_{{tag}}@example.com"}), mail=True)
S("activation_flow.resend_email_other_case",
  post("users/resend_activation/", {"email": "ALICE_{{tag}}@EXAMPLE.COM"}),
  setup=[User("alice", active=False)], mail=True)
S("activation_flow.resend_duplicate_email",
  post("users/resend_activation/", {"email": "{{alice.email}}"}),
  setup=[User("alice", active=False), User("bob", email="{{alice.email}}", active=False,
                                          expect=None)])
S("activation_flow.resend_missing", post("users/resend_activation/", {}))
S("activation_flow.resend_invalid", post("users/resend_activation/", {"email": "nope"}))
S("activation_flow.reset_password_inactive",
  post("users/reset_password/", {"email": "{{alice.email}}"}),
  setup=[User("alice", active=False)], mail=True)
S("activation_flow.email_change_deactivates",
  patch("users/me/", {"email": EM("alicenew")}, "alice"),
  get("users/me/", "alice"),
  get("users/me/", "jwt:alice"),
  post("jwt/refresh/", {"refresh": "{{alice.refresh}}"}),
  post("token/login/", creds("alice")),
  post("jwt/create/", creds("alice")),
  setup=LOGGED_IN_JWT, mail=True)
S("activation_flow.email_unchanged_stays_active",
  patch("users/me/", {"email": "{{alice.email}}"}, "alice"), get("users/me/", "alice"),
  setup=LOGGED_IN, mail=True)
S("activation_flow.put_own_email_change",
  put("users/{{alice.id}}/", {"email": EM("alicenew")}, "alice"), get("users/me/", "alice"),
  setup=LOGGED_IN, mail=True)

# ===========================================================================
# confirmation_only profile: SEND_CONFIRMATION_EMAIL alone
# ===========================================================================
profile("confirmation_only")

S("confirmation.register_sends_confirmation",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW}),
  post("token/login/", {"username": UN("alice"), "password": PW}), mail=True)
S("confirmation.resend_disabled", post("users/resend_activation/", {"email": "{{alice.email}}"}),
  setup=[User("alice")])

# ===========================================================================
# retype profile: all *_RETYPE flags
# ===========================================================================
profile("retype")

S("retype.register_ok",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW,
                  "re_password": PW}))
S("retype.register_missing_re_password",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW}))
S("retype.register_mismatch",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW,
                  "re_password": NEW_PW}))
S("retype.register_weak_and_mismatch",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": "1",
                  "re_password": "2"}))
S("retype.register_blank_re_password",
  post("users/", {"username": UN("alice"), "email": EM("alice"), "password": PW,
                  "re_password": ""}))
S("retype.register_missing_all", post("users/", {}))
S("retype.set_password_ok",
  post("users/set_password/", {"new_password": NEW_PW, "re_new_password": NEW_PW,
                               "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_password_missing_re",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}, "alice"),
  setup=LOGGED_IN)
S("retype.set_password_mismatch",
  post("users/set_password/", {"new_password": NEW_PW, "re_new_password": PW,
                               "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_password_weak_and_mismatch",
  post("users/set_password/", {"new_password": "1", "re_new_password": "2",
                               "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_password_missing_all", post("users/set_password/", {}, "alice"), setup=LOGGED_IN)
S("retype.reset_password_confirm_ok",
  post(RPC, dict(rpc_body(), re_new_password=NEW_PW)), setup=[User("alice")] + reset_link())
S("retype.reset_password_confirm_missing_re",
  post(RPC, rpc_body()), setup=[User("alice")] + reset_link())
S("retype.reset_password_confirm_mismatch",
  post(RPC, dict(rpc_body(), re_new_password=PW)), setup=[User("alice")] + reset_link())
S("retype.reset_password_confirm_mismatch_bad_uid",
  post(RPC, {"uid": BAD_UID, "token": "x", "new_password": NEW_PW, "re_new_password": PW}))
S("retype.reset_password_confirm_missing_all", post(RPC, {}))
S("retype.set_username_ok",
  post(SU, {"new_username": UN("renamed"), "re_new_username": UN("renamed"),
            "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_username_missing_re",
  post(SU, {"new_username": UN("renamed"), "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_username_mismatch",
  post(SU, {"new_username": UN("renamed"), "re_new_username": UN("other"),
            "current_password": PW}, "alice"), setup=LOGGED_IN)
S("retype.set_username_missing_all", post(SU, {}, "alice"), setup=LOGGED_IN)
S("retype.reset_username_confirm_ok",
  post(RUC, dict(ruc_body(), re_new_username=UN("renamed"))),
  setup=[User("alice")] + reset_link(kind="username_reset"))
S("retype.reset_username_confirm_missing_re",
  post(RUC, ruc_body()), setup=[User("alice")] + reset_link(kind="username_reset"))
S("retype.reset_username_confirm_mismatch",
  post(RUC, dict(ruc_body(), re_new_username=UN("other"))),
  setup=[User("alice")] + reset_link(kind="username_reset"))
S("retype.reset_username_confirm_missing_all", post(RUC, {}))

# ===========================================================================
# show_users profile: HIDE_USERS = False
# ===========================================================================
profile("show_users")

S("show_users.list_admin", get("users/", "admin"), setup=[User("alice"), User("bob"), Admin()],
  doc="first scenario of its profile, so the list holds exactly root, alice, bob")
S("show_users.list_non_staff", get("users/", "alice"), setup=LOGGED_IN)
S("show_users.get_other", get("users/{{bob.id}}/", "alice"), setup=LOGGED_IN + [User("bob")])
S("show_users.get_missing", get("users/999999/", "alice"), setup=LOGGED_IN)
S("show_users.patch_other", patch("users/{{bob.id}}/", {"email": EM("x")}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("show_users.put_other", put("users/{{bob.id}}/", {}, "alice"), setup=LOGGED_IN + [User("bob")])
S("show_users.delete_other", delete("users/{{bob.id}}/", {"current_password": PW}, "alice"),
  setup=LOGGED_IN + [User("bob")])
S("show_users.get_own", get("users/{{alice.id}}/", "alice"), setup=LOGGED_IN)

# ===========================================================================
# staff profile: default settings, a fresh server so the user list is short
# ===========================================================================
profile("staff")

S("staff.list_all", get("users/", "admin"), setup=[User("alice"), User("bob"), Admin()],
  doc="first scenario of its profile: HIDE_USERS hides nobody from staff")
S("staff.list_non_staff", get("users/", "alice"), setup=LOGGED_IN)
S("staff.get_other", get("users/{{alice.id}}/", "admin"), setup=[User("alice"), Admin()])
S("staff.put_other", put("users/{{alice.id}}/", {"email": EM("new")}, "admin"),
  setup=[User("alice"), Admin()])
S("staff.delete_other_wrong_password",
  delete("users/{{alice.id}}/", {"current_password": PW}, "admin"),
  setup=[User("alice"), Admin()], doc="the caller's own password is required")
S("staff.set_password_changes_own",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": "{{admin.password}}"},
       "admin"),
  post("token/login/", {"username": "{{admin.username}}", "password": NEW_PW}),
  post("users/set_password/", {"new_password": "{{admin.password}}", "current_password": NEW_PW},
       "admin"),
  setup=[Admin()])

# ===========================================================================
# email_not_found profile: both *_SHOW_EMAIL_NOT_FOUND flags
# ===========================================================================
profile("email_not_found")

S("email_not_found.reset_password_unknown",
  post("users/reset_password/", {"email": "nobody_{{tag}}@example.com"}))
S("email_not_found.reset_password_known", post("users/reset_password/", {"email": "{{alice.email}}"}),
  setup=[User("alice")], mail=True)
S("email_not_found.reset_password_email_other_case",
  post("users/reset_password/", {"email": "ALICE_{{tag}}@EXAMPLE.COM"}), setup=[User("alice")],
  mail=True)
S("email_not_found.reset_username_unknown",
  post("users/reset_username/", {"email": "nobody_{{tag}}@example.com"}))
S("email_not_found.resend_unknown",
  post("users/resend_activation/", {"email": "nobody_{{tag}}@example.com"}))
S("email_not_found.resend_active_user",
  post("users/resend_activation/", {"email": "{{alice.email}}"}), setup=[User("alice")])
S("email_not_found.reset_password_invalid", post("users/reset_password/", {"email": "nope"}))

# ===========================================================================
# password_reset_not_found_only: only PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND
# ===========================================================================
profile("password_reset_not_found_only")

S("pw_not_found_only.reset_password_unknown",
  post("users/reset_password/", {"email": "nobody_{{tag}}@example.com"}))
S("pw_not_found_only.reset_username_unknown",
  post("users/reset_username/", {"email": "nobody_{{tag}}@example.com"}),
  doc="Djoser OR-s the two flags (wire notes §9.11)")
S("pw_not_found_only.resend_unknown",
  post("users/resend_activation/", {"email": "nobody_{{tag}}@example.com"}))

# ===========================================================================
# logout_on_password_change profile
# ===========================================================================
profile("logout_on_password_change")

S("logout_on_change.set_password",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}, "alice"),
  get("users/me/", "alice"),
  get("users/me/", "jwt:alice"),
  post("token/login/", {"username": "{{alice.username}}", "password": NEW_PW}),
  setup=LOGGED_IN_JWT)
S("logout_on_change.failed_set_password_keeps_token",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": "wrong"}, "alice"),
  get("users/me/", "alice"), setup=LOGGED_IN)
S("logout_on_change.reset_password_confirm",
  post(RPC, rpc_body()), get("users/me/", "alice"),
  setup=LOGGED_IN + reset_link())

# ===========================================================================
# changed_emails profile: PASSWORD_/USERNAME_CHANGED_EMAIL_CONFIRMATION
# ===========================================================================
profile("changed_emails")

S("changed_emails.set_password",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": PW}, "alice"),
  setup=LOGGED_IN, mail=True)
S("changed_emails.set_password_failed",
  post("users/set_password/", {"new_password": NEW_PW, "current_password": "wrong"}, "alice"),
  setup=LOGGED_IN, mail=True)
S("changed_emails.reset_password_confirm", post(RPC, rpc_body()),
  setup=[User("alice")] + reset_link(), mail=True)
S("changed_emails.set_username",
  post(SU, {"new_username": UN("renamed"), "current_password": PW}, "alice"),
  setup=LOGGED_IN, mail=True)
S("changed_emails.reset_username_confirm", post(RUC, ruc_body()),
  setup=[User("alice")] + reset_link(kind="username_reset"), mail=True)


# ===========================================================================
# Allow-list: deliberate doorman departures (SPEC §2; wire notes §9)
# ===========================================================================


def _not_5xx(dj, dm):
    return f"doorman answered {dm['status']}" if dm["status"] >= 500 else None


def _served_not_redirected(dj, dm):
    if dm["status"] == 301 or dm["status"] >= 500:
        return f"doorman answered {dm['status']}; it must serve the slash-less path itself"
    return None


def _status_in(*allowed):
    def check(dj, dm):
        return None if dm["status"] in allowed else (
            f"doorman answered {dm['status']}, expected one of {allowed}")
    return check


def _client_error(dj, dm):
    return None if 400 <= dm["status"] < 500 else f"doorman answered {dm['status']}, expected 4xx"


def _json_parse_error(dj, dm):
    body = dm["body"]
    if dm["status"] != 400 or not isinstance(body, dict) or list(body) != ["detail"]:
        return "expected 400 {\"detail\": \"JSON parse error - …\"}"
    if not str(body["detail"]).startswith("JSON parse error - "):
        return "detail must start with 'JSON parse error - '"
    return None


def _is_token_login(dj):
    body = dj["body"]
    return dj["status"] == 200 and isinstance(body, dict) and list(body) == ["auth_token"]


def _token_body(dj, dm):
    body = dm["body"]
    if dm["status"] != 200 or not isinstance(body, dict) or list(body) != ["auth_token"]:
        return "expected 200 {\"auth_token\": …}"
    return None


def _bad_request_detail(dj, dm):
    body = dm["body"]
    if dm["status"] != 400 or not isinstance(body, dict) or list(body) != ["detail"]:
        return "expected 400 {\"detail\": …}"
    return None


def _options_metadata(dj, dm):
    body = dm["body"]
    if dm["status"] != dj["status"]:
        return f"doorman answered {dm['status']}, Djoser {dj['status']}"
    if dj["status"] != 200:
        return None if body == dj["body"] else "the error body must match"
    if not isinstance(body, dict) or not isinstance(dj["body"], dict):
        return "expected a metadata object"
    if body.get("name") != dj["body"].get("name"):
        return "the view name must match"
    return None


def _not_found(dj, dm):
    body = dm["body"]
    if dm["status"] != 404 or body != {"detail": "Not found."}:
        return "expected 404 {\"detail\": \"Not found.\"}"
    return None


EXPECTED_DIFFERENCES: list[Expected] = [
    Expected(
        "format-suffix-not-served",
        "DRF's format-suffix twins (users.json, users/me.json) and unanchored jwt/createx "
        "regexes are not served: doorman answers 404 for them (README, departures).",
        ("register.ok_format_suffix", "users.list_format_suffix_unknown",
         "jwt_create.unanchored_suffix"), check=_status_in(404)),
    Expected(
        "parser-error-text",
        "The text of a UTF-8 or multipart parse error is the parser's own; status and shape "
        "must match.",
        ("register.invalid_utf8_json", "register.multipart_without_boundary"),
        aspects=("body",), check=_bad_request_detail),
    Expected(
        "options-metadata-short",
        "doorman's OPTIONS answer carries name, description, renders and parses but not DRF's "
        "`actions` field description (README, departures).",
        ("*.options", "*.options_own"), aspects=("body",), check=_options_metadata),
    Expected(
        "one-not-found",
        "DRF ≥3.15 says \"No User matches the given query.\" for a missing id but \"Not "
        "found.\" for a hidden one, which tells them apart (§9.7); doorman answers \"Not "
        "found.\" for both.",
        ("user.get_missing", "show_users.get_missing", "user.delete_missing",
         "user.delete_admin_other"), aspects=("body",), check=_not_found),
    Expected(
        "delete-other-hidden",
        "Djoser answers 403 to DELETE on another existing user but 404 on a missing one "
        "(§9.7); with hide_users doorman answers 404 for both.",
        ("user.delete_other",), check=_not_found),
    Expected(
        "password-change-retires-jwts",
        "SPEC §2 / issue 5: a password change makes access tokens issued before it fail "
        "(Djoser never revokes JWTs).",
        ("set_password.ok_bearer", "logout_on_change.set_password"), check=_status_in(401, 204)),
    Expected(
        "refresh-needs-a-user",
        "simplejwt refreshes a token that names no user; doorman requires the user to exist and "
        "be active (a token without user_id can only come from a holder of the key).",
        ("jwt_refresh.no_user_id",), check=_status_in(401)),
    Expected(
        "no-5xx-me-options-head",
        "Djoser 2.3.5 answers 500 to OPTIONS and HEAD on users/me/ (issue #593); "
        "SPEC §2: no request may produce a 5xx, OPTIONS and HEAD work on every route.",
        ("me.options", "me.head"), check=_not_5xx),
    Expected(
        "no-5xx-integer-uid",
        "Djoser crashes (500) on a JSON number as uid; SPEC §2 forbids 5xx, so doorman "
        "answers a 4xx (normally the invalid-uid error).",
        ("*.integer_uid",), check=_client_error),
    Expected(
        "unique-emails",
        "Djoser's stock user model accepts duplicate e-mails, which later makes reset/resend "
        "crash with 500 (issue #716). doorman enforces unique e-mails (users.unique_email, "
        "SPEC §1) and never answers 5xx.",
        ("register.duplicate_email", "register.duplicate_email_other_case",
         "reset_password.duplicate_email",
         "activation_flow.resend_duplicate_email"), check=_not_5xx),
    Expected(
        "no-5xx-refresh-deleted-user",
        "simplejwt 5.5.1 crashes (500) refreshing a token of a deleted user; doorman answers "
        "401.",
        ("jwt_refresh.deleted_user", "jwt_refresh.unknown_user"), check=_status_in(401)),
    Expected(
        "no-5xx-null-uid",
        "reset_username_confirm reads uid/token raw from the body (they are not serializer "
        "fields), and a JSON null uid crashes Djoser (500); doorman answers a 4xx.",
        ("reset_username_confirm.null_uid_and_token",), check=_client_error),
    Expected(
        "no-content-type",
        "A body without Content-Type: Django's development server (wsgiref) fills in "
        "CONTENT_TYPE=text/plain, so DRF names \"text/plain\" in its 415 message; another "
        "WSGI server would name \"\". doorman must answer 415 {\"detail\"}.",
        ("register.no_content_type",), aspects=("body",), check=_status_in(415)),
    Expected(
        "slashless-served",
        "Without the trailing slash Django's CommonMiddleware answers 301; SPEC §2: doorman "
        "answers such a request as if it had the slash.",
        ("*.noslash",), check=_served_not_redirected),
    Expected(
        "email-case-insensitive",
        "Djoser matches e-mail addresses case-sensitively (wire notes §9.10); doorman compares "
        "them case-insensitively (SPEC §1), so the user is found and mailed.",
        ("*email_other_case",), check=_not_5xx),
    Expected(
        "reset-confirm-revokes-sessions",
        "Djoser leaves a user's DRF tokens alive after reset_password_confirm (§9.8); SPEC §2: "
        "doorman revokes the user's sessions.",
        ("reset_password_confirm.ok",), aspects=("status", "body", "header:*"), steps=(3,),
        check=_status_in(401)),
    Expected(
        "reset-confirm-revokes-sessions",
        "As above, with LOGOUT_ON_PASSWORD_CHANGE on (which only covers set_password in Djoser).",
        ("logout_on_change.reset_password_confirm",), aspects=("status", "body", "header:*"),
        steps=(1,), check=_status_in(401)),
    Expected(
        "token-per-login",
        "DRF authtoken keeps one token per user, so every login returns the key the user already "
        "has; doorman stores several opaque tokens per user and may issue a new one per login.",
        ("*",), aspects=("body",), check=_token_body, when=_is_token_login),
    Expected(
        "show-email-not-found-independent",
        "Djoser OR-s PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND and USERNAME_RESET_SHOW_EMAIL_NOT_FOUND "
        "across reset_password, reset_username and resend_activation (§9.11); doorman may treat "
        "each flag as applying to its own endpoint.",
        ("pw_not_found_only.reset_username_unknown", "pw_not_found_only.resend_unknown"),
        check=_status_in(204, 400)),
    Expected(
        "reset-confirm-similarity",
        "Djoser validates a reset password against the anonymous user, so the similarity "
        "validator never fires (§9.9); doorman may validate against the target user.",
        ("reset_password_confirm.password_similar_to_email",), check=_status_in(204, 400)),
    Expected(
        "json-parse-error-text",
        "The text after 'JSON parse error - ' is Python's json module's message; doorman's "
        "parser words it differently. Status and shape must still match.",
        ("*.malformed_json", "me.patch_malformed_json"), aspects=("body",),
        check=_json_parse_error),
]
