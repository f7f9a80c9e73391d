"""Simulated platforms for the active-renewal journeys, on this worktree's ports (8540-8599)."""

import time

from renewal.platforms import services
from renewal.simulator import unbind as unbind_simulator
from renewal.simulator.server import SimPlatform, Simulator
from tests.renewal import helpers_renewal
from tests.renewal.helpers_renewal import make_key, make_platform

ALL_ANSWER = {"unbound": 0.5, "nothing_bound": 0.3, "rejected": 0.2}


def free_port() -> int:
    return helpers_renewal.free_port(8540, 8599)


def simulated_platforms(names, *, api_url: str, mix: dict | None = None, **options) -> tuple[Simulator, list]:
    """Live platforms with keys whose webhooks point at one simulator that answers through `api_url`."""
    platforms = []
    for i, name in enumerate(names):
        category, kind = ("number_tags", "tag_provider") if i % 4 == 3 else (["payment", "social", "e-commerce"][i % 4],
                                                                             "application")
        platform = make_platform(name=name, category=category, kind=kind)
        platform.key = make_key(platform)
        platforms.append(platform)
    sim = Simulator(port=free_port(), api_url=api_url, platforms=[
        SimPlatform(platform_id=p.pk, name=p.name, secrets=services.platform_secrets(p), api_key=p.key)
        for p in platforms], **options)
    unbind_simulator.configure(sim, mix or ALL_ANSWER)
    sim.start()
    for p in platforms:
        p.webhook_url = sim.url_for(p.pk)
        p.save(update_fields=["webhook_url"])
    return sim, platforms


def wait_for(predicate, *, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not reached within {timeout} s")
