import pytest
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from portal.celery import app as celery_app
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


@pytest.fixture
def not_eager():
    """Tasks go through the broker to the worker process, not inline."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def api_server(transactional_db):
    """The portal over real HTTP on 127.0.0.1, in this worktree's port range."""
    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override=None, port=free_port())
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
