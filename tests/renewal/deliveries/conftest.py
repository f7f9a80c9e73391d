import pytest

from renewal.platforms import services
from renewal.simulator.server import SimPlatform, Simulator
from tests.renewal.helpers_renewal import free_port


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
