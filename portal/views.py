"""The landing page and the health check."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app


@require_GET
def home(request):
    return render(request, "home.html")


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001  (any failure means not ready; say which)
        return f"database: {exc.__class__.__name__}: {exc}"
    return None


def _broker_ready() -> str | None:
    try:
        with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"broker: {exc.__class__.__name__}: {exc}"
    return None


@require_GET
def health(request):
    """Liveness always; readiness (database and broker) with the reason when not ready."""
    problems = [p for p in (_database_ready(), _broker_ready()) if p]
    body = {"live": True, "ready": not problems}
    if problems:
        body["reasons"] = problems
    return JsonResponse(body, status=200 if not problems else 503)
