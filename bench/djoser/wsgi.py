"""WSGI entry point for gunicorn: the reference Djoser project with bench_settings."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
