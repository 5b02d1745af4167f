#!/usr/bin/env python3
"""Writes the DDL Django 5.2 runs for the apps beyond auth/contenttypes
(admin, DRF authtoken, simplejwt's blacklist, the seed's accounts app and
a project model), as Django's schema editor writes them for the final
state of those models, to ../schema/apps-<backend>.sql, one file per backend, for
tests that build a shared database on top of doorman's migrations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python3 dump_schema.py postgres
    python3 dump_schema.py sqlite

The schema editor only collects SQL; nothing is written to the database.
Needs, beside tests/django/requirements.txt: djoser==2.3.5, pillow and
psycopg[binary] (for the PostgreSQL dialect).
"""

import os
import sys

backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
if backend == "sqlite":
    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402
from django.db import connection  # noqa: E402

django.setup()

APPS = ["admin", "authtoken", "token_blacklist", "accounts", "shop"]
models = [
    m
    for app in APPS
    for m in apps.get_app_config(app).get_models()
    if m._meta.managed and not m._meta.proxy
]
with connection.schema_editor(collect_sql=True, atomic=False) as editor:
    for model in models:
        editor.create_model(model)
out = [
    f"-- The tables Django 5.2 makes for {', '.join(APPS)} on {backend}, as its",
    "-- schema editor writes them (tests/django/site/dump_schema.py).",
]
out += editor.collected_sql
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema", f"apps-{backend}.sql")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print(path, len(models), "models")
