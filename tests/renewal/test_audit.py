"""The audit trail of the renewal app's admin actions: platforms, secrets, keys, retries, reports and evidence."""

import json
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from numbers import roles
from numbers.models import AuditAction, AuditEntry
from renewal.active.reports import evidence_storage
from renewal.conformance.services import conformance_record_simulated
from renewal.models import ApiKey, Delivery, DeliveryState, Evidence, HarassmentReport, Platform
from renewal.platforms import services as platform_services
from tests.factories import staff_user
from tests.renewal.helpers_renewal import make_platform
from tests.renewal.helpers_subscriber import allocated

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(platform_admin):
    client = Client(headers={"accept-language": "en"})
    client.force_login(platform_admin)
    return client


def only(action, **filters) -> AuditEntry:
    return AuditEntry.objects.get(action=action, **filters)


def text_of(entry: AuditEntry) -> str:
    return json.dumps([entry.before, entry.after, entry.detail, entry.object_repr])


def test_a_platforms_webhook_url_before_and_after(client):
    platform = make_platform("Alipay", webhook_url="https://hooks.alipay.example/old")
    client.post(f"/admin/renewal/platform/{platform.pk}/change/", {
        "name": "Alipay", "category": "payment", "kind": "application",
        "webhook_url": "https://hooks.elsewhere.example/new", "status": "live", "max_in_flight": "8"})
    entry = only(AuditAction.CHANGE, object_type="renewal.platform")
    assert (entry.actor_name, entry.role, entry.object_repr) == ("platform-admin", roles.PLATFORM_ADMIN, "Alipay")
    assert entry.before == {"webhook_url": "https://hooks.alipay.example/old"}
    assert entry.after == {"webhook_url": "https://hooks.elsewhere.example/new"}


def test_a_refused_webhook_url_changes_nothing_and_writes_nothing(client, settings):
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    platform = make_platform("Alipay", webhook_url="https://hooks.alipay.example/old")
    response = client.post(f"/admin/renewal/platform/{platform.pk}/change/", {
        "name": "Alipay", "category": "payment", "kind": "application", "webhook_url": "http://10.0.0.1/x",
        "status": "live", "max_in_flight": "8"})
    assert response.status_code == 200
    platform.refresh_from_db()
    assert platform.webhook_url == "https://hooks.alipay.example/old"
    assert not AuditEntry.objects.filter(object_type="renewal.platform", action=AuditAction.CHANGE).exists()


def test_a_platform_added_then_suspended_and_made_live(client, dead):
    client.post("/admin/renewal/platform/add/", {"name": "WeChat", "category": "social", "kind": "application",
                                                  "webhook_url": "", "status": "sandbox", "max_in_flight": "4"})
    created = only(AuditAction.CREATE, object_type="renewal.platform", actor_name="platform-admin")
    assert created.after == {"name": "WeChat", "category": "social", "kind": "application", "webhook_url": "",
                             "status": "sandbox", "max_in_flight": 4, "support_phone": "", "support_url": ""}
    assert "whsec_" not in text_of(created)
    client.post("/admin/renewal/platform/", {"action": "suspend", "_selected_action": [dead.pk]})
    suspended = only(AuditAction.STATUS_CHANGE, object_id=str(dead.pk))
    assert (suspended.before, suspended.after) == ({"status": "live"}, {"status": "suspended"})
    assert suspended.detail == {"deliveries_cancelled": Delivery.objects.filter(platform=dead).count()}
    conformance_record_simulated(platform=dead)  # only a platform whose last check passed goes live
    client.post("/admin/renewal/platform/", {"action": "make_live", "_selected_action": [dead.pk]})
    assert AuditEntry.objects.filter(action=AuditAction.STATUS_CHANGE, object_id=str(dead.pk),
                                     after={"status": "live"}).count() == 1


def test_a_secret_rotation_never_writes_the_secret(client):
    platform = make_platform("Taobao")
    response = client.post("/admin/renewal/platform/", {"action": "rotate_secret", "_selected_action": [platform.pk]},
                           follow=True)
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", response.content.decode()).group(1)
    entry = only(AuditAction.SECRET_ROTATE)
    assert entry.object_repr == "Taobao" and "previous_secret_valid_until" in entry.detail
    assert secret not in text_of(entry) and "whsec_" not in text_of(entry)


def test_a_key_created_and_revoked_never_writes_the_key(client):
    platform = make_platform("Taobao")
    response = client.post("/admin/renewal/apikey/add/", {"platform": platform.pk, "name": "prod"}, follow=True)
    raw = re.search(r"(rk_[A-Za-z0-9_-]{43})", response.content.decode()).group(1)
    key = ApiKey.objects.get()
    created = only(AuditAction.KEY_CREATE)
    assert created.after == {"name": "prod", "prefix": key.prefix, "scope": "platform",
                             "owner": {"id": platform.pk, "text": "Taobao"}}
    assert raw not in text_of(created) and key.key_hash not in text_of(created)
    client.post("/admin/renewal/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    client.post("/admin/renewal/apikey/", {"action": "revoke", "_selected_action": [key.pk]})  # again: no-op
    revoked = only(AuditAction.KEY_REVOKE)
    assert revoked.object_id == str(key.pk) and revoked.before == {"revoked_at": None}
    assert revoked.actor_name == "platform-admin"


def test_a_retry_of_dead_deliveries(client, dead, django_capture_on_commit_callbacks):
    ids = sorted(str(i) for i in Delivery.objects.values_list("id", flat=True))
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/admin/renewal/delivery/", {"action": "retry", "_selected_action": ids})
    entry = only(AuditAction.DELIVERY_RETRY)
    assert entry.detail == {"count": len(ids), "deliveries": ids}
    assert entry.actor_name == "platform-admin"
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.PENDING}


@pytest.fixture
def report(operator, outlet, clerk, settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path
    number, period = allocated(operator, outlet, clerk)
    report = HarassmentReport.objects.create(number=number, holder_period=period, category="marketing",
                                             sender="+864001234567", occurred_at=period.started_at,
                                             description="Calls for the old holder.")
    path = evidence_storage().save("evidence/x.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    Evidence.objects.create(report=report, path=path, original_name="call.png", content_type="image/png", size=8,
                            sha256="0" * 64)
    return report


def test_a_reports_status_handled_by_a_regulator(report):
    regulator = staff_user(role=roles.REGULATOR, username="reg")
    client = Client()
    client.force_login(regulator)
    evidence = Evidence.objects.get()
    response = client.post(f"/admin/renewal/harassmentreport/{report.pk}/change/", {
        "status": "in_review", "notes": "Called.", "evidence-TOTAL_FORMS": "1", "evidence-INITIAL_FORMS": "1",
        "evidence-0-id": str(evidence.pk), "evidence-0-report": str(report.pk)})
    assert response.status_code == 302, response.content
    entry = only(AuditAction.REPORT_HANDLE)
    assert (entry.actor_name, entry.role, entry.object_repr) == ("reg", roles.REGULATOR, report.reference)
    assert entry.before == {"status": "new", "notes": ""} and entry.after == {"status": "in_review", "notes": "Called."}
    report.refresh_from_db()
    assert (report.status, report.handled_by) == ("in_review", "reg")


def test_an_evidence_download_is_audited_and_sandboxed(report):
    regulator = staff_user(role=roles.REGULATOR, username="reg")
    client = Client()
    client.force_login(regulator)
    evidence = Evidence.objects.get()
    response = client.get(reverse("subscriber:evidence", args=[evidence.pk]))
    assert response.status_code == 200 and response["Content-Security-Policy"] == "sandbox"
    entry = only(AuditAction.EVIDENCE_DOWNLOAD)
    assert entry.detail == {"report": report.reference, "file": "call.png", "inline": False}
    assert entry.actor_name == "reg"


def test_the_simulator_and_other_system_parts_are_named_as_themselves():
    platform = platform_services.platform_create(name="Sim", category="other", actor="simulate_platforms")
    entry = only(AuditAction.CREATE, object_type="renewal.platform")
    assert (entry.actor_name, entry.role, entry.object_id) == ("simulate_platforms", "system", str(platform.pk))
    assert Platform.objects.count() == 1
