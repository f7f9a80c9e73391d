"""Unbind requests: one task per live platform, coalesced into one delivery per platform, results, deadline."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from numbers.errors import DomainError
from renewal.active import services as unbind
from renewal.deliveries import bodies
from renewal.deliveries import unbind as coalescer
from renewal.models import Delivery, DeliveryEvent, DeliveryState, UnbindRequest, UnbindTask
from tests.renewal.helpers_renewal import make_platform
from tests.renewal.helpers_subscriber import allocated, sign_in


def _unbind_all(client):
    response = client.post("/renew/unbind", {"all": "1"})
    assert response.status_code == 302 and "/renew/requests/" in response["Location"], response
    return UnbindRequest.objects.get(pk=response["Location"].rsplit("/", 1)[1])


def test_unbind_all_reaches_every_live_platform_with_the_holding_start(client, holder, platforms):
    number, period = holder
    sign_in(client, number.msisdn)
    page = client.get("/renew/number").content.decode()
    for platform in platforms:
        assert platform.name in page
    assert "Sandbox App" not in page and "Caller ID and number tags".lower() in page.lower()
    request = _unbind_all(client)
    assert request.bound_before == period.started_at
    assert sorted(request.tasks.values_list("platform__name", flat=True)) == sorted(p.name for p in platforms)
    # when the coalescer runs
    ids = coalescer.unbind_coalesce()
    # then each platform has one unbind.request delivery carrying its task with bound_before = the start
    assert len(ids) == len(platforms)
    for delivery in Delivery.objects.filter(pk__in=ids).select_related("platform"):
        assert delivery.event == DeliveryEvent.UNBIND and delivery.state == DeliveryState.SENT  # pull-only
        body = bodies.unbind_body(delivery)
        assert body["event"] == "unbind.request" and body["delivery_id"] == str(delivery.pk)
        (task,) = body["tasks"]
        assert task["msisdn"] == number.msisdn
        assert task["bound_before"] == timezone.localtime(period.started_at).isoformat(timespec="seconds")
        assert task["bound_before"].endswith("+08:00")
        assert task["kinds"] == (["tag"] if delivery.platform.kind == "tag_provider" else ["account"])


def test_a_chosen_subset(client, holder, platforms):
    number, _ = holder
    sign_in(client, number.msisdn)
    chosen = [platforms[0].pk, platforms[4].pk]
    response = client.post("/renew/unbind", {"platforms": chosen})
    request = UnbindRequest.objects.get(pk=response["Location"].rsplit("/", 1)[1])
    assert sorted(request.tasks.values_list("platform_id", flat=True)) == sorted(chosen)


def test_choosing_nothing_or_a_sandbox_platform_is_refused(client, holder, platforms):
    number, _ = holder
    sign_in(client, number.msisdn)
    sandbox = make_platform("Other Sandbox", status="sandbox")
    for data in ({}, {"platforms": [sandbox.pk]}, {"platforms": ["x"]}):
        response = client.post("/renew/unbind", data, follow=True)
        assert "Choose at least one application" in response.content.decode()
    assert not UnbindRequest.objects.exists()


def test_a_second_request_while_one_runs_is_refused(client, holder, platforms):
    number, _ = holder
    sign_in(client, number.msisdn)
    first = _unbind_all(client)
    response = client.post("/renew/unbind", {"all": "1"}, follow=True)
    assert "is still running" in response.content.decode()
    assert UnbindRequest.objects.count() == 1
    # once it is finished, another is allowed, and both are listed
    UnbindTask.objects.update(result="nothing_bound")
    unbind.unbind_deadline_sweep()
    first.refresh_from_db()
    assert first.finished_at is not None
    second = _unbind_all(client)
    page = client.get("/renew/number").content.decode()
    assert str(first.pk) in page and str(second.pk) in page


def test_unknown_start_is_refused_by_the_service(holder, platforms):
    _, period = holder
    type(period).objects.filter(pk=period.pk).update(started_at=None)
    with pytest.raises(DomainError) as exc:
        unbind.unbind_request_create(period=period)
    assert exc.value.code == "unknown_start"
    assert not UnbindRequest.objects.exists()


def test_n_requests_in_one_window_become_one_delivery_per_platform(operator, outlet, clerk, platforms):
    periods = [allocated(operator, outlet, clerk)[1] for _ in range(30)]
    for period in periods:
        unbind.unbind_request_create(period=period)
    ids = coalescer.unbind_coalesce()
    assert len(ids) == len(platforms)
    assert Delivery.objects.filter(event=DeliveryEvent.UNBIND).count() == len(platforms)
    for delivery in Delivery.objects.filter(pk__in=ids):
        assert len(bodies.unbind_body(delivery)["tasks"]) == 30
    assert coalescer.unbind_coalesce() == []  # nothing left to claim: running it again changes nothing
    assert not UnbindTask.objects.filter(delivery__isnull=True).exists()


def test_a_platform_with_a_webhook_gets_a_pending_delivery_for_the_sender(holder):
    _, period = holder
    make_platform("Hooked", webhook_url="https://hooks.example/unbind")
    unbind.unbind_request_create(period=period)
    (delivery,) = Delivery.objects.filter(pk__in=coalescer.unbind_coalesce())
    assert delivery.state == DeliveryState.PENDING and delivery.next_attempt_at is not None


def _one_task(period, platform):
    unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    return UnbindTask.objects.get(request__holder_period=period, platform=platform)


def test_results_from_the_wrong_platform_are_refused_and_duplicates_are_harmless(holder, platforms):
    _, period = holder
    task = _one_task(period, platforms[0])
    with pytest.raises(unbind.TaskNotFound):
        unbind.unbind_task_report(platform=platforms[1], task_id=task.pk, status="unbound", accounts=1)
    unbind.unbind_task_report(platform=platforms[0], task_id=task.pk, status="unbound", accounts=2)
    again = unbind.unbind_task_report(platform=platforms[0], task_id=task.pk, status="unbound", accounts=2)
    assert again.result == "unbound" and again.accounts == 2
    with pytest.raises(unbind.AlreadyReported):
        unbind.unbind_task_report(platform=platforms[0], task_id=task.pk, status="nothing_bound")
    task.refresh_from_db()
    assert (task.result, task.accounts) == ("unbound", 2)


@pytest.mark.parametrize("status,accounts,reason,detail,field", [
    ("done", 1, None, "", "status"), ("no_answer", 0, None, "", "status"), ("unbound", None, None, "", "accounts"),
    ("unbound", -1, None, "", "accounts"), ("unbound", "3", None, "", "accounts"),
    ("unbound", True, None, "", "accounts"), ("nothing_bound", 0, None, "x" * 501, "detail"),
    ("nothing_bound", 0, None, 5, "detail"),
    # a rejection names a reason of the vocabulary; nothing else has one
    ("rejected", 0, None, "frozen", "reason"), ("rejected", 0, "", "frozen", "reason"),
    ("rejected", 0, "court", "frozen", "reason"), ("rejected", 0, ["legal_hold"], "", "reason"),
    ("unbound", 1, "legal_hold", "", "reason"), ("nothing_bound", 0, "other", "", "reason"),
])
def test_invalid_results_are_refused_with_the_field(holder, platforms, status, accounts, reason, detail, field):
    _, period = holder
    task = _one_task(period, platforms[0])
    with pytest.raises(DomainError) as exc:
        unbind.unbind_task_report(platform=platforms[0], task_id=task.pk, status=status, accounts=accounts,
                                  reason=reason, detail=detail)
    assert exc.value.code == "validation_error" and field in exc.value.fields
    task.refresh_from_db()
    assert task.result == "" and task.reported_at is None


def test_every_result_in_confirms_the_delivery_and_finishes_the_request(operator, outlet, clerk, platforms,
                                                                         django_capture_on_commit_callbacks):
    p1, p2 = (allocated(operator, outlet, clerk)[1] for _ in range(2))
    r1, r2 = unbind.unbind_request_create(period=p1), unbind.unbind_request_create(period=p2)
    coalescer.unbind_coalesce()
    platform = platforms[0]
    delivery = Delivery.objects.get(platform=platform, event=DeliveryEvent.UNBIND)
    t1 = r1.tasks.get(platform=platform)

    def report(**kwargs):
        # the finishing checks run after commit
        with django_capture_on_commit_callbacks(execute=True):
            unbind.unbind_task_report(**kwargs)

    report(platform=platform, task_id=t1.pk, status="rejected", reason="legal_hold", detail="account frozen by court")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT  # r2's task is still open
    report(platform=platform, task_id=r2.tasks.get(platform=platform).pk, status="nothing_bound")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.CONFIRMED and delivery.confirmed_at
    r1.refresh_from_db()
    assert r1.finished_at is None
    for task in r1.tasks.exclude(pk=t1.pk):
        report(platform=task.platform, task_id=task.pk, status="unbound", accounts=1)
    r1.refresh_from_db()
    assert r1.finished_at is not None


def test_the_deadline_makes_unanswered_tasks_no_answer_and_the_page_final(client, holder, platforms, settings):
    number, period = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    coalescer.unbind_coalesce()
    first = request.tasks.get(platform=platforms[0])
    unbind.unbind_task_report(platform=platforms[0], task_id=first.pk, status="unbound", accounts=3)
    status = client.get(f"/renew/requests/{request.pk}/status").json()
    assert status["final"] is False and "1 of 5 platforms have answered" in status["progress"]
    assert {t["status"] for t in status["tasks"]} == {"unbound", "sent"}
    assert unbind.unbind_deadline_sweep(now=timezone.now() + timedelta(hours=1)) == 0  # not yet
    later = timezone.now() + timedelta(seconds=settings.UNBIND_ANSWER_DEADLINE_SECONDS + 1)
    assert unbind.unbind_deadline_sweep(now=later) == 4
    assert unbind.unbind_deadline_sweep(now=later) == 0  # twice changes nothing
    status = client.get(f"/renew/requests/{request.pk}/status").json()
    assert status["final"] is True
    assert "1 platform unbound" in status["summary"] and "4 did not answer" in status["summary"]
    page = client.get(f"/renew/requests/{request.pk}").content.decode()
    assert 'data-final="true"' in page and "unbound (3 accounts)" in page
    # a late answer still counts, and does not reopen anything
    late = request.tasks.get(platform=platforms[1])
    unbind.unbind_task_report(platform=platforms[1], task_id=late.pk, status="nothing_bound")
    late.refresh_from_db()
    assert late.result == "nothing_bound"


def test_another_subscribers_request_and_status_are_404(client, holder, operator, outlet, clerk, platforms):
    number, _ = holder
    _, other_period = allocated(operator, outlet, clerk)
    theirs = unbind.unbind_request_create(period=other_period)
    sign_in(client, number.msisdn)
    assert client.get(f"/renew/requests/{theirs.pk}").status_code == 404
    assert client.get(f"/renew/requests/{theirs.pk}/status").status_code == 404


def test_pages_need_a_verified_session(client, holder, platforms):
    _, period = holder
    request = unbind.unbind_request_create(period=period)
    for url in ("/renew/number", f"/renew/requests/{request.pk}", f"/renew/requests/{request.pk}/status",
                "/renew/report"):
        assert client.get(url)["Location"] == "/renew/"
    assert client.post("/renew/unbind", {"all": "1"})["Location"] == "/renew/"


def test_the_unbind_form_needs_csrf(holder, platforms):
    number, _ = holder
    client = Client(enforce_csrf_checks=True)
    session_client = Client()
    sign_in(session_client, number.msisdn)
    client.cookies = session_client.cookies
    assert client.post("/renew/unbind", {"all": "1"}).status_code == 403


def test_the_sweep_confirms_a_delivery_whose_last_answers_raced(holder, platforms):
    _, period = holder
    request = unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    # as if two last answers had both missed the confirmation: answered, but the delivery still `sent`
    request.tasks.update(result="nothing_bound")
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}
    unbind.unbind_deadline_sweep()
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.CONFIRMED}


def test_the_simulator_mix_is_configurable(monkeypatch):
    from renewal.simulator import unbind as unbind_simulator

    assert unbind_simulator.parse_mix("unbound=0.6, nothing_bound=0.3,rejected=0.05,none=0.05") == {
        "unbound": 0.6, "nothing_bound": 0.3, "rejected": 0.05, None: 0.05}
    with pytest.raises(ValueError):
        unbind_simulator.parse_mix("gone=1")
    monkeypatch.setenv("RENEWAL_SIM_UNBIND_MIX", "rejected=1")
    assert unbind_simulator._default_mix() == {"rejected": 1.0}
