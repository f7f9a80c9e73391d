"""The pump: the claim's limits (per platform over every worker, per process), priorities, the slice's deadline,
a slow platform that times out while the others finish, bulk recording, the pooled client.

The send-time address rules are tests/renewal/platforms/test_webhook_urls.py's."""

import asyncio
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from renewal.active import services as unbind
from renewal.deliveries import bodies, http, pump, services
from renewal.deliveries import unbind as coalescer
from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState, Platform
from renewal.platforms import crypto
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_chunks(settings):
    settings.RENEWAL_CHUNK_SIZE = 10


def _sweep(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no pump after commit: the test drives it
        services.batch_sweep()


def _claimed_per_platform(claimed):
    counts = {}
    for c in claimed:
        counts[c.platform_id] = counts.get(c.platform_id, 0) + 1
    return counts


def test_the_claim_takes_at_most_the_limit_less_those_in_flight(operator, small_chunks,
                                                                django_capture_on_commit_callbacks):
    narrow = make_platform("Narrow", webhook_url="https://hooks.example.com/n")
    wide = make_platform("Wide", webhook_url="https://hooks.example.com/w")
    Platform.objects.filter(pk=narrow.pk).update(max_in_flight=3)
    make_frozen_numbers(operator, 100)  # 10 chunks: 10 deliveries each
    _sweep(django_capture_on_commit_callbacks)
    now = timezone.now()
    # one of Narrow's is in flight already (another worker leased it)
    in_flight = Delivery.objects.filter(platform=narrow).first()
    Delivery.objects.filter(pk=in_flight.pk).update(claimed_until=now + timedelta(seconds=30),
                                                    next_attempt_at=now + timedelta(seconds=30))
    claimed = pump.claim(limit=100, now=now)
    assert _claimed_per_platform(claimed) == {narrow.pk: 2, wide.pk: 8}
    assert len({c.id for c in claimed}) == 10 and in_flight.pk not in {c.id for c in claimed}
    # claimed ones are leased: in flight until recorded, not claimed again
    assert pump.claim(limit=100, now=now) == []
    leased = Delivery.objects.filter(pk__in=[c.id for c in claimed])
    assert all(d.claimed_until > now and d.next_attempt_at == d.claimed_until for d in leased)
    # a recorded outcome frees its place: one more of Wide's can go
    first = next(c for c in claimed if c.platform_id == wide.pk)
    pump.record([pump.Outcome(first, http.Answer(ok=True, status=200, started_at=now.timestamp(), latency_ms=3))])
    (again,) = pump.claim(limit=100, now=now)
    assert again.platform_id == wide.pk
    # past the lease, a dead worker's deliveries are neither in flight nor leased: they are due again
    later = now + pump.lease() + timedelta(seconds=1)
    assert _claimed_per_platform(pump.claim(limit=100, now=later)) == {narrow.pk: 3, wide.pk: 8}


def test_the_global_limit_takes_every_platform_in_turn(operator, small_chunks, django_capture_on_commit_callbacks):
    platforms = [make_platform(f"P{i}", webhook_url=f"https://hooks.example.com/{i}") for i in range(4)]
    make_frozen_numbers(operator, 50)
    _sweep(django_capture_on_commit_callbacks)
    claimed = pump.claim(limit=6, now=timezone.now())
    counts = _claimed_per_platform(claimed)
    assert len(claimed) == 6 and set(counts) == {p.pk for p in platforms} and max(counts.values()) == 2
    # a platform's deliveries go chunk by chunk (one body built for all the platforms of a chunk)
    chunks = dict(Delivery.objects.filter(pk__in=[c.id for c in claimed]).values_list("id", "chunk__seq"))
    assert sorted(set(chunks.values())) == [0, 1]


def test_a_waiting_person_goes_before_a_batch(operator, outlet, clerk, small_chunks,
                                              django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/x")
    Platform.objects.filter(pk=platform.pk).update(max_in_flight=1)
    make_frozen_numbers(operator, 50)
    _sweep(django_capture_on_commit_callbacks)  # five batch deliveries, older than the unbind one
    unbind.unbind_request_create(period=allocated(operator, outlet, clerk)[1])
    (unbind_delivery,) = coalescer.unbind_coalesce()
    (claimed,) = pump.claim(limit=10, now=timezone.now())
    assert claimed.event == DeliveryEvent.UNBIND and claimed.id == unbind_delivery


def test_outcomes_are_recorded_with_their_attempts(operator, django_capture_on_commit_callbacks, settings):
    settings.RENEWAL_MAX_ATTEMPTS = 2
    platform = make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 3000)
    _sweep(django_capture_on_commit_callbacks)
    now = timezone.now()
    ok, failing, last = pump.claim(limit=10, now=now)
    last.attempts = 1  # its second attempt: the last one allowed
    long_error = "HTTP 500: " + "错" * 400  # 1,210 bytes of UTF-8
    states = pump.record([
        pump.Outcome(ok, http.Answer(ok=True, status=201, started_at=now.timestamp(), latency_ms=250)),
        pump.Outcome(failing, http.Answer(ok=False, status=500, error=long_error, started_at=now.timestamp(),
                                          latency_ms=40)),
        pump.Outcome(last, http.Answer(ok=False, error="timeout", started_at=now.timestamp(), latency_ms=10_000)),
    ])
    assert states == ["sent", "pending", "dead"]
    rows = {d.pk: d for d in Delivery.objects.all()}
    assert rows[ok.id].state == "sent" and rows[ok.id].sent_at >= now and rows[ok.id].claimed_until is None
    assert rows[failing.id].state == "pending" and rows[failing.id].next_attempt_at > now
    assert rows[failing.id].claimed_until is None and rows[failing.id].attempts == 1
    assert rows[last.id].state == "dead" and rows[last.id].next_attempt_at is None
    attempts = {a.delivery_id: a for a in DeliveryAttempt.objects.all()}
    assert (attempts[ok.id].status_code, attempts[ok.id].latency_ms) == (201, 250)
    assert attempts[failing.id].status_code == 500
    assert len(attempts[failing.id].error.encode()) <= 500 and attempts[failing.id].error.startswith("HTTP 500: 错")
    assert attempts[last.id].status_code is None and attempts[last.id].error == "timeout"
    assert {a.platform_id for a in attempts.values()} == {platform.pk}


def test_a_confirmation_that_came_first_wins_but_the_attempt_is_kept(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 4)
    _sweep(django_capture_on_commit_callbacks)
    now = timezone.now()
    (claimed,) = pump.claim(limit=10, now=now)
    services.delivery_confirm(platform=platform, delivery_id=claimed.id, unbound=1, not_found=3)
    pump.record([pump.Outcome(claimed, http.Answer(ok=False, status=503, error="HTTP 503", started_at=now.timestamp(),
                                                   latency_ms=5))])
    assert Delivery.objects.get().state == DeliveryState.CONFIRMED
    assert DeliveryAttempt.objects.get().status_code == 503


def test_a_slice_decrypts_each_secret_once_and_builds_each_chunk_once(operator, small_chunks, simulator, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    platforms = [make_platform(f"P{i}") for i in range(3)]
    sim = simulator(platforms)
    make_frozen_numbers(operator, 40)  # 4 chunks x 3 platforms
    _sweep(django_capture_on_commit_callbacks)
    decrypted, built = [], []
    decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda token: decrypted.append(token) or decrypt(token))
    build = bodies._build
    monkeypatch.setattr(bodies, "_build", lambda ids: built.extend(ids) or build(ids))
    bodies._chunk_cache.clear()
    report = pump.Slice(seconds=10).run()
    assert report.sent == 12 and sim.stats.received == 12 and sim.stats.bad_signature == 0
    assert len(decrypted) == 3  # once per platform in the slice, not once per attempt
    assert sorted(built) == sorted(set(built)) and len(built) == 4  # each chunk's numbers serialised once


@override_settings(RENEWAL_PUMP_SLICE_SECONDS=0.6)
def test_a_slice_ends_at_its_deadline_and_what_it_did_not_send_stays_due(operator, small_chunks, simulator,
                                                                          django_capture_on_commit_callbacks):
    platform = make_platform()
    Platform.objects.filter(pk=platform.pk).update(max_in_flight=1)
    sim = simulator([platform], latency_ms=250)
    make_frozen_numbers(operator, 100)  # 10 deliveries, one at a time, 250 ms each
    _sweep(django_capture_on_commit_callbacks)
    token = services.deliveries_pump(slot=0)
    sent = Delivery.objects.filter(state=DeliveryState.SENT).count()
    assert 1 <= sent <= 4 and sim.stats.received == sent
    rest = Delivery.objects.filter(state=DeliveryState.PENDING)
    assert rest.count() == 10 - sent
    # the rest were never claimed: due now, not in flight
    assert all(d.claimed_until is None and d.next_attempt_at <= timezone.now() for d in rest)
    assert token is not None  # work is left: the chain goes on with the slot's token
    assert services.deliveries_pump(slot=0) is None  # another chain finds the slot taken
    assert services.deliveries_pump(slot=0, token=token) is not None or Delivery.objects.filter(
        state=DeliveryState.PENDING).count() == 0


@override_settings(RENEWAL_READ_TIMEOUT=1.0, RENEWAL_CONNECT_TIMEOUT=1.0)
def test_one_platform_timing_out_holds_none_of_the_others(operator, small_chunks, simulator,
                                                          django_capture_on_commit_callbacks):
    slow = make_platform("Slow")
    fast = [make_platform(f"Fast {i}") for i in range(3)]
    sim = simulator([slow, *fast])
    sim.platforms[slow.pk].latency_ms = 2500  # past the read timeout
    make_frozen_numbers(operator, 30)  # 3 chunks: 3 deliveries per platform
    _sweep(django_capture_on_commit_callbacks)
    report = pump.Slice(seconds=10).run()
    assert report.sent == 9 and report.failed == 3
    slow_rows = Delivery.objects.filter(platform=slow)
    assert all(d.state == DeliveryState.PENDING and "timeout" in d.last_error for d in slow_rows)
    slow_attempts = DeliveryAttempt.objects.filter(platform=slow)
    assert slow_attempts.count() == 3 and all(a.status_code is None for a in slow_attempts)
    assert all(a.latency_ms >= 1000 for a in slow_attempts)
    # every other platform's delivery was sent before the slow platform's first POST gave up
    gave_up = min(a.started_at + timedelta(milliseconds=a.latency_ms) for a in slow_attempts)
    sent = Delivery.objects.filter(platform__in=fast)
    assert all(d.state == DeliveryState.SENT and d.sent_at < gave_up for d in sent)


def test_the_client_is_one_per_process_and_its_loop_runs_apart():
    client = http.client()
    assert http.client() is client
    assert client.loop.is_running() and not asyncio.get_event_loop_policy().get_event_loop().is_running()


@pytest.mark.services
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_postgresql_serialises_a_chunk_to_the_very_bytes_python_does(require_postgres, operator, settings, zone,
                                                                     small_chunks, django_capture_on_commit_callbacks):
    settings.TIME_ZONE = zone
    make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 25)
    _sweep(django_capture_on_commit_callbacks)
    # winter and summer, either side of midnight local time
    for i, entry in enumerate(BatchEntry.objects.order_by("id")):
        at = timezone.now().replace(month=1 + (i % 12), day=1 + i, hour=(i * 7) % 24, minute=i, second=i,
                                    microsecond=123456)
        BatchEntry.objects.filter(pk=entry.pk).update(disconnected_at=at, release_not_before=at + timedelta(days=90))
    chunks = list(BatchChunk.objects.values_list("id", flat=True))
    built = bodies._numbers_postgresql(chunks)
    assert set(built) == set(chunks) and built == bodies._numbers_python(chunks)
    assert built[chunks[0]][0] == b'"CMCC"' and built[chunks[0]][1].startswith(b'[{"msisdn":"+86')


def test_pumps_running_at_once_each_take_their_share_of_a_platforms_places(operator, small_chunks,
                                                                           django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/x")  # 8 places
    make_frozen_numbers(operator, 200)  # 20 deliveries
    _sweep(django_capture_on_commit_callbacks)
    now = timezone.now()
    first = pump.claim(limit=100, now=now, share=pump.Share(chains=3))
    assert len(first) == 3  # ceil(8 / 3)
    # the same pump, holding those three, takes no more; another takes its own three; a third the last two
    assert pump.claim(limit=100, now=now, share=pump.Share(chains=3, mine={platform.pk: 3})) == []
    assert len(pump.claim(limit=100, now=now, share=pump.Share(chains=3))) == 3
    assert len(pump.claim(limit=100, now=now, share=pump.Share(chains=3))) == 2
    assert pump.claim(limit=100, now=now, share=pump.Share(chains=1)) == []  # the platform's 8 are in flight
