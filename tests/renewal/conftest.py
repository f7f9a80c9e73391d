import json

import pytest
from django.core.management import call_command

from renewal.deliveries import services as delivery_services
from renewal.models import Delivery, DeliveryState
from renewal.platforms import services
from renewal.simulator.server import SimPlatform, Simulator
from tests.renewal.helpers_renewal import free_port, make_frozen_numbers, make_platform


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


@pytest.fixture
def simulator():
    """Start simulators (real HTTP on 127.0.0.1) for given platforms; stop them after the test."""
    started = []

    def start(platforms, **options):
        port = free_port()
        sims = [SimPlatform(platform_id=p.pk, name=p.name, secrets=services.platform_secrets(p),
                            api_key=getattr(p, "raw_key", ""), fail_first=getattr(p, "fail_first", 0))
                for p in platforms]
        sim = Simulator(port=port, platforms=sims, **options).start()
        started.append(sim)
        for p in platforms:
            p.webhook_url = sim.url_for(p.pk)
            p.save(update_fields=["webhook_url"])
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def dead(operator, other_operator, django_capture_on_commit_callbacks):
    """A platform with a webhook and its deliveries of two operators' batches, all dead after a 503."""
    platform = make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 2)
    make_frozen_numbers(other_operator, 2)
    with django_capture_on_commit_callbacks(execute=False):
        delivery_services.batch_sweep()
    Delivery.objects.update(state=DeliveryState.DEAD, last_error="HTTP 503: down", next_attempt_at=None)
    return platform
