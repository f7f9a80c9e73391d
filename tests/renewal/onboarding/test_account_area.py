"""The platform account area: keys shown once, the secret's overlap, webhook and concurrency with their audit,
the delivery log and redelivery, alerts, the owner's invitations."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from numbers.models import AuditEntry
from renewal.models import ApiKey, Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState, SmsMessage
from renewal.onboarding import services
from renewal.platforms.services import api_key_authenticate, platform_secrets
from tests.renewal.onboarding.conftest import make_engineer, sign_in_engineer


def test_a_new_key_is_shown_once_and_works(client_a, engineer_a):
    response = client_a.post("/platform/keys/", {"name": "production"})
    raw = response.context["new_key"]
    assert raw.startswith("rk_") and raw.encode() in response.content
    key = api_key_authenticate(raw)
    assert key is not None and key.platform == engineer_a.platform
    listing = client_a.get("/platform/keys/")
    assert raw.encode() not in listing.content and key.prefix.encode() in listing.content
    entry = AuditEntry.objects.get(action="key_create")
    assert entry.actor_id == engineer_a.user.pk and entry.role == "platform engineer"
    assert raw not in str(entry.after)


def test_revoking_a_key(client_a, engineer_a):
    client_a.post("/platform/keys/", {"name": "old"})
    key = ApiKey.objects.get()
    assert client_a.post(f"/platform/keys/{key.pk}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEntry.objects.filter(action="key_revoke", actor_id=engineer_a.user.pk).exists()


def test_rotating_the_secret_shows_it_once_and_keeps_the_old_one_for_the_overlap(client_a, engineer_a):
    old = platform_secrets(engineer_a.platform)[0]
    response = client_a.post("/platform/secret/")
    new = response.context["new_secret"]
    assert new.encode() in response.content
    engineer_a.platform.refresh_from_db()
    assert platform_secrets(engineer_a.platform) == [new, old]
    remaining = engineer_a.platform.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)
    assert new.encode() not in client_a.get("/platform/secret/").content
    assert AuditEntry.objects.filter(action="secret_rotate", actor_id=engineer_a.user.pk).exists()


def test_webhook_and_concurrency_changes_are_audited_before_and_after(client_a, engineer_a):
    response = client_a.post("/platform/settings/", {"webhook_url": "https://new.alpha.example/hook",
                                                     "max_in_flight": "20"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="change", object_type="renewal.platform")
    assert entry.before == {"webhook_url": "https://hooks.alpha.example/x", "max_in_flight": 8}
    assert entry.after == {"webhook_url": "https://new.alpha.example/hook", "max_in_flight": 20}
    assert entry.actor_id == engineer_a.user.pk


@pytest.mark.parametrize("url", ["https://0x7f000001/x", "https://127.1/x", "https://[::ffff:127.0.0.1]/x",
                                 "https://2130706433/x", "https://169.254.169.254/x"])
def test_an_internal_webhook_is_refused_and_nothing_changes(client_a, engineer_a, settings, url):
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    response = client_a.post("/platform/settings/", {"webhook_url": url, "max_in_flight": "8"})
    assert response.status_code == 400 and "webhook_url" in response.context["form"].errors
    engineer_a.platform.refresh_from_db()
    assert engineer_a.platform.webhook_url == "https://hooks.alpha.example/x"
    assert not AuditEntry.objects.filter(action="change").exists()


def test_concurrency_out_of_bounds_is_refused(client_a):
    response = client_a.post("/platform/settings/", {"webhook_url": "", "max_in_flight": "0"})
    assert response.status_code == 400 and "max_in_flight" in response.context["form"].errors


def _unbind_delivery(platform, state, *, minutes_ago=0):
    return Delivery.objects.create(event=DeliveryEvent.UNBIND, platform=platform, state=state,
                                   created_at=timezone.now() - timedelta(minutes=minutes_ago))


def test_the_delivery_log_shows_attempts_and_filters_by_state(client_a, engineer_a):
    dead = _unbind_delivery(engineer_a.platform, DeliveryState.DEAD)
    confirmed = _unbind_delivery(engineer_a.platform, DeliveryState.CONFIRMED, minutes_ago=5)
    DeliveryAttempt.objects.create(delivery=dead, platform=engineer_a.platform, started_at=timezone.now(),
                                   status_code=503, latency_ms=1234, error="HTTP 503: down for maintenance")
    page = client_a.get("/platform/deliveries/")
    assert [d.pk for d, _a in page.context["rows"]] == [dead.pk, confirmed.pk]
    assert b"1234" in page.content and b"503" in page.content and b"down for maintenance" in page.content
    only_dead = client_a.get("/platform/deliveries/", {"state": "dead"})
    assert [d.pk for d, _a in only_dead.context["rows"]] == [dead.pk]
    detail = client_a.get(f"/platform/deliveries/{dead.pk}/")
    assert detail.status_code == 200 and b"redeliver" in detail.content


def test_redelivering_a_dead_delivery(client_a, engineer_a, django_capture_on_commit_callbacks):
    dead = _unbind_delivery(engineer_a.platform, DeliveryState.DEAD)
    with django_capture_on_commit_callbacks(execute=False):
        assert client_a.post(f"/platform/deliveries/{dead.pk}/redeliver/").status_code == 302
    dead.refresh_from_db()
    assert dead.state == DeliveryState.PENDING and dead.attempts == 0
    assert AuditEntry.objects.filter(action="delivery_retry", actor_id=engineer_a.user.pk).exists()
    # only a dead one
    confirmed = _unbind_delivery(engineer_a.platform, DeliveryState.CONFIRMED)
    assert client_a.post(f"/platform/deliveries/{confirmed.pk}/redeliver/").status_code == 404


def test_alerts_go_when_deliveries_start_dying(client_a, engineer_a, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "renewal.active.sms.DatabaseBackend"
    assert client_a.post("/platform/alerts/", {"email": "oncall@alpha.example",
                                               "phone": "+8613800000000"}).status_code == 302
    assert AuditEntry.objects.filter(action="change", object_type="renewal.platformalert").exists()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.alerts_check(now=now) == 0  # nothing dead yet
    _unbind_delivery(engineer_a.platform, DeliveryState.DEAD)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.alerts_check(now=now) == 1
    assert mail.outbox[-1].to == ["oncall@alpha.example"] and "1" in mail.outbox[-1].body
    assert SmsMessage.objects.filter(to="+8613800000000").count() == 1
    # the same dead delivery is not told twice; a new death after the quiet period is
    later = now + timedelta(minutes=settings.PLATFORM_ALERT_MIN_MINUTES + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.alerts_check(now=later) == 0
        _unbind_delivery(engineer_a.platform, DeliveryState.DEAD)
        assert services.alerts_check(now=now + timedelta(minutes=1)) == 0  # still quiet
        assert services.alerts_check(now=later) == 1
    assert len(mail.outbox) == 2


def test_the_owner_invites_an_engineer(client_a, engineer_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post("/platform/team/", {"email": "dev@alpha.example"})
    assert response.status_code == 302
    invited = engineer_a.platform.accounts.get(user__username="dev@alpha.example")
    assert not invited.is_owner and mail.outbox[0].to == ["dev@alpha.example"]
    assert "/platform/set-password/" in mail.outbox[0].body
    again = client_a.post("/platform/team/", {"email": "dev@alpha.example"})
    assert again.status_code == 400 and engineer_a.platform.accounts.count() == 2


def test_an_engineer_who_is_not_the_owner_cannot_invite(client, engineer_a):
    member = make_engineer(engineer_a.platform, email="dev@alpha.example", owner=False)
    sign_in_engineer(client, member)
    assert client.get("/platform/team/").status_code == 200
    assert client.post("/platform/team/", {"email": "x@alpha.example"}).status_code == 404
    assert engineer_a.platform.accounts.count() == 2


def test_a_changed_password_ends_the_session(client_a, engineer_a):
    engineer_a.user.set_password("changed-elsewhere-2026")
    engineer_a.user.save()
    assert client_a.get("/platform/keys/")["Location"].startswith("/platform/login/")


def test_the_overview_leaves_a_place_for_the_conformance_check(client_a):
    page = client_a.get("/platform/")
    assert page.status_code == 200 and b'id="conformance"' in page.content
