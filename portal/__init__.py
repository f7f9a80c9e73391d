from portal import stdlib_numbers  # noqa: F401  (before anything imports the `numbers` app)
from portal.celery import app as celery_app

__all__ = ["celery_app"]
