"""Benchmark settings for the reference Djoser project (tests/differential/djoser_project).

Everything comes from that project's settings; this only adds what a
production deployment would set and the benchmark needs:
  * PostgreSQL when BENCH_DJOSER_PG_DB names a database (127.0.0.1:5432, user
    postgres), else SQLite at DIFF_DJOSER_DB as in the reference project;
  * CONN_MAX_AGE = 60 (persistent connections, as production Django is run;
    Django's default 0 would reconnect on every request).
The password hasher stays Django's default (PBKDF2-SHA256, 1,000,000 iterations).
"""
import os

from djoser_project.settings import *  # noqa: F401,F403
from djoser_project.settings import DATABASES

if os.environ.get("BENCH_DJOSER_PG_DB"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["BENCH_DJOSER_PG_DB"],
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = 60
