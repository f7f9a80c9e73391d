"""The portal's WSGI application with one more view, for bench/query_bench.py: a bare baseline under gunicorn."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

import portal.stdlib_numbers  # noqa: E402, F401

django.setup()

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

settings.ROOT_URLCONF = "bench.query_urls"
application = get_wsgi_application()
