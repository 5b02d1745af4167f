"""Settings of the reference Djoser 2.3.5 project used by the differential tests.

Everything that varies between test runs comes from the environment, under
the same names doorman reads, so one set of variables configures both
servers:

  DOORMAN_SECURITY__SECRET_KEY     SECRET_KEY (required; shared with doorman so
                                   JWTs and reset links are interchangeable)
  DOORMAN_DJOSER__<SETTING>        any boolean Djoser setting, e.g.
                                   DOORMAN_DJOSER__SEND_ACTIVATION_EMAIL=true
  DIFF_DJOSER_DB                   path of the SQLite database file
  DIFF_DJOSER_MAIL_DIR             directory for the file-based e-mail backend
  DOORMAN_DJOSER__DOMAIN           DOMAIN used in e-mail links
  DOORMAN_DJOSER__SITE_NAME        SITE_NAME used in e-mails
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: expected a boolean, got {raw!r}")


SECRET_KEY = os.environ.get("DOORMAN_SECURITY__SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("set DOORMAN_SECURITY__SECRET_KEY")

DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "djoser",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "djoser_project.urls"

# Djoser renders its e-mails from templates; the app-directories loader finds them.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DIFF_DJOSER_DB", str(BASE_DIR / "djoser.sqlite3")),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ.get("DIFF_DJOSER_MAIL_DIR", str(BASE_DIR / "mail"))
DEFAULT_FROM_EMAIL = "webmaster@localhost"

REST_FRAMEWORK = {
    # JWT first: DRF asks the first class for the WWW-Authenticate value of a
    # 401, and doorman always answers `Bearer realm="api"`.
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ),
    "DEFAULT_RENDERER_CLASSES": ("rest_framework.renderers.JSONRenderer",),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.AllowAny",),
}

# Djoser's boolean settings, each overridable as DOORMAN_DJOSER__<NAME>.
_DJOSER_BOOLEANS = {
    "SEND_ACTIVATION_EMAIL": False,
    "SEND_CONFIRMATION_EMAIL": False,
    "USER_CREATE_PASSWORD_RETYPE": False,
    "SET_PASSWORD_RETYPE": False,
    "PASSWORD_RESET_CONFIRM_RETYPE": False,
    "SET_USERNAME_RETYPE": False,
    "USERNAME_RESET_CONFIRM_RETYPE": False,
    "PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND": False,
    "USERNAME_RESET_SHOW_EMAIL_NOT_FOUND": False,
    "PASSWORD_CHANGED_EMAIL_CONFIRMATION": False,
    "USERNAME_CHANGED_EMAIL_CONFIRMATION": False,
    "LOGOUT_ON_PASSWORD_CHANGE": False,
    "CREATE_SESSION_ON_LOGIN": False,
    "HIDE_USERS": True,
}

DJOSER = {
    name: _env_bool(f"DOORMAN_DJOSER__{name}", default)
    for name, default in _DJOSER_BOOLEANS.items()
}
DJOSER.update(
    {
        "ACTIVATION_URL": "#/activate/{uid}/{token}",
        "PASSWORD_RESET_CONFIRM_URL": "#/password/reset/confirm/{uid}/{token}",
        "USERNAME_RESET_CONFIRM_URL": "#/username/reset/confirm/{uid}/{token}",
    }
)

# Djoser reads DOMAIN and SITE_NAME from the Django settings for e-mail links.
DOMAIN = os.environ.get("DOORMAN_DJOSER__DOMAIN", "frontend.example")
SITE_NAME = os.environ.get("DOORMAN_DJOSER__SITE_NAME", "Doorman Diff")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Optional, for quick local iterations only: a cheap hasher changes nothing on
# the wire but makes every login/registration ~100x faster than PBKDF2 with
# Django 5.2's 1,000,000 iterations. Captures are made without it.
if os.environ.get("DIFF_DJOSER_FAST_HASHING"):
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
