"""The database connection cut (pg_terminate_backend) while a sweep, an import or the coalescer has its
transaction open: it rolls back, nothing is half-moved, and the next run completes.

Each test blocks the service's next write with a table lock held from another session, so the cut lands on a
transaction that has already written (its session holds a transaction id) and is waiting, then checks every row.
"""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from numbers.feeds.cancellations import CancellationRow, cancellations_import
from numbers.models import Event, EventKind, HolderPeriod, PhoneNumber, State
from numbers.services import release_sweep
from renewal.deliveries import services
from renewal.deliveries.unbind import unbind_coalesce
from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryEvent, RecycleBatch, UnbindRequest, UnbindTask
from tests.reliability.helpers import TableBlocker, terminate_mid_transaction
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _cut(error: BaseException | None) -> None:
    assert isinstance(error, DatabaseError), f"expected the cut connection's error, got {error!r}"


def test_release_sweep_cut_mid_chunk_rolls_back_and_the_next_run_releases_all(require_postgres, operator,
                                                                               settings):
    # given 120 numbers whose freeze ended a day ago, renewed (no live platform: every chunk complete)
    numbers = make_frozen_numbers(operator, 120, cancelled_days_ago=91)
    services.batch_sweep()
    before = snapshot()
    settings.SWEEP_CHUNK_SIZE = 50
    # when the sweep's connection is cut after it moved a chunk's numbers, before their events are written
    blocker = TableBlocker(Event._meta.db_table)
    blocker.lock()
    struck = terminate_mid_transaction(release_sweep, blocker=blocker)
    # then it rolled back: every number still frozen, no release event, no number half-moved
    _cut(struck.error)
    assert "INSERT INTO" in struck.session[2] and Event._meta.db_table in struck.session[2]
    assert PhoneNumber.objects.filter(state=State.FROZEN).count() == 120
    assert not Event.objects.filter(kind=EventKind.RELEASE).exists()
    assert_invariants(since=before)
    # and the next run releases every one, each with one release event
    assert release_sweep() == 120
    assert set(PhoneNumber.objects.values_list("state", "is_secondary").distinct()) == {(State.AVAILABLE, True)}
    assert Event.objects.filter(kind=EventKind.RELEASE).count() == 120
    assert set(Event.objects.filter(kind=EventKind.RELEASE).values_list("number_id", flat=True)) == {
        n.pk for n in numbers}
    assert_invariants(since=before)


def test_batch_sweep_cut_before_its_deliveries_leaves_no_batch_and_the_next_run_batches_all(require_postgres,
                                                                                           operator, settings):
    # given two live pull-only platforms and 250 numbers due for renewal
    settings.RENEWAL_CHUNK_SIZE = 100
    make_platform("Cut A"), make_platform("Cut B")
    make_frozen_numbers(operator, 250)
    before = snapshot()
    # when the sweep's connection is cut after it wrote the batch, its chunks and entries, before the deliveries
    blocker = TableBlocker(Delivery._meta.db_table)
    blocker.lock()
    struck = terminate_mid_transaction(services.batch_sweep, blocker=blocker)
    # then nothing of the batch is left
    _cut(struck.error)
    assert Delivery._meta.db_table in struck.session[2]
    for model in (RecycleBatch, BatchChunk, BatchEntry, Delivery):
        assert not model.objects.exists(), model
    assert_invariants(since=before)
    # and the next sweep batches every number once: 3 chunks, a delivery per chunk and platform
    [batch_id] = services.batch_sweep()
    assert RecycleBatch.objects.get().size == 250 and BatchEntry.objects.count() == 250
    assert Delivery.objects.filter(chunk__batch_id=batch_id).count() == 6
    assert services.batch_sweep() == []
    assert_invariants(since=before)


def test_feed_import_cut_mid_chunk_keeps_the_chunks_done_and_the_same_file_finishes(require_postgres, roles_back,
                                                                                     operator, outlet, clerk):
    # given 150 held numbers and a file cancelling all of them
    now = timezone.now()
    numbers = [allocated(operator, outlet, clerk)[0] for _ in range(150)]
    lines = [CancellationRow(line=i + 2, msisdn=n.msisdn, cancelled_at=now - timedelta(days=1), reason="cancel",
                             to_operator="") for i, n in enumerate(numbers)]
    before = snapshot()
    # when the import's connection is cut in its second chunk (the first committed), before that chunk's events
    blocker = TableBlocker(Event._meta.db_table)
    first_chunk_done = []

    def progress(done: int, total: int) -> None:
        if not first_chunk_done:
            first_chunk_done.append(done)
            blocker.lock()  # the next chunk's events wait: its numbers are moved, its transaction open

    struck = terminate_mid_transaction(
        lambda: cancellations_import(operator=operator, rows=lines, actor="feed", chunk_size=50, progress=progress),
        blocker=blocker)
    # then the first chunk is kept whole and the second rolled back whole: each number moved with its event, or not
    _cut(struck.error)
    assert first_chunk_done == [50]
    frozen = set(PhoneNumber.objects.filter(state=State.FROZEN).values_list("id", flat=True))
    assert len(frozen) == 50
    assert set(Event.objects.filter(kind=EventKind.CANCEL).values_list("number_id", flat=True)) == frozen
    assert set(HolderPeriod.objects.filter(ended_at__isnull=False).values_list("number_id", flat=True)) == frozen
    assert PhoneNumber.objects.filter(state=State.ACTIVE).count() == 100
    assert_invariants(since=before)
    # and the same file again finishes the rest and counts the first chunk's lines as already applied
    summary = cancellations_import(operator=operator, rows=lines, actor="feed", chunk_size=50)
    assert (summary.applied, summary.already_applied, summary.rejected_total) == (100, 50, 0)
    assert PhoneNumber.objects.filter(state=State.FROZEN).count() == 150
    assert Event.objects.filter(kind=EventKind.CANCEL).count() == 150
    assert_invariants(since=before)


def test_coalescer_cut_while_claiming_leaves_no_delivery_and_the_next_run_claims_every_task(
        require_postgres, roles_back, operator, outlet, clerk):
    # given four unbind requests, each with a task for three live pull-only platforms
    platforms = [make_platform(f"Coalesced {i}") for i in range(3)]
    now = timezone.now()
    for _ in range(4):
        number, period = allocated(operator, outlet, clerk)
        request = UnbindRequest.objects.create(number=number, holder_period=period, bound_before=period.started_at,
                                               created_at=now)
        for p in platforms:
            UnbindTask.objects.create(request=request, platform=p, created_at=now,
                                      deadline_at=now + timedelta(hours=1))
    # when the coalescer's connection is cut after it wrote a platform's delivery, while it claims the tasks
    blocker = TableBlocker(UnbindTask._meta.db_table)
    blocker.lock()
    struck = terminate_mid_transaction(unbind_coalesce, blocker=blocker)
    # then no delivery is left and no task is claimed
    _cut(struck.error)
    assert UnbindTask._meta.db_table in struck.session[2]
    assert not Delivery.objects.exists()
    assert UnbindTask.objects.filter(delivery__isnull=True).count() == 12
    assert_invariants()
    # and the next run makes one delivery per platform holding its four tasks
    assert len(unbind_coalesce()) == 3
    assert Delivery.objects.filter(event=DeliveryEvent.UNBIND).count() == 3
    for p in platforms:
        delivery = Delivery.objects.get(platform=p)
        assert set(UnbindTask.objects.filter(platform=p).values_list("delivery_id", flat=True)) == {delivery.pk}
    assert_invariants()
