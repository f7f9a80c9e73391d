import json

import pytest
from django.core.management import call_command


@pytest.fixture
def cache_table(db):
    """The database cache (throttling counts) needs its table, which migrations do not create."""
    call_command("createcachetable", verbosity=0)


@pytest.fixture
def api(client, cache_table):
    """Call the platform API as a platform would: `api("post", path, key=…, data=…)` (or `raw=` bytes)."""

    def call(method, path, key=None, data=None, raw=None, **extra):
        if key:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        body = raw if raw is not None else (json.dumps(data) if data is not None else None)
        kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
        return getattr(client, method)(path, **kwargs, **extra)

    return call
