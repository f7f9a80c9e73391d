"""The audit trail: append-only, written in the change's transaction, one row per audited action of the numbers
app and of the accounts (the renewal app's actions: tests/renewal/test_audit.py), and the regulators' page."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, InternalError, OperationalError, ProgrammingError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.audit import audit_record
from numbers.models import (
    AppendOnlyError,
    AuditAction,
    AuditEntry,
    MarkEffect,
    Outlet,
    RiskList,
    RiskMark,
    StaffProfile,
)
from numbers.services import risk_mark_place
from tests.factories import OutletFactory, UserFactory, staff_user
from tests.helpers_two_factor import sign_in_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client(headers={"accept-language": "en"})


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def cmcc_admin(operator):
    return staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")


def only(action, **filters) -> AuditEntry:
    return AuditEntry.objects.get(action=action, **filters)


# --- the log itself ----------------------------------------------------------------------------------


def test_entries_cannot_be_changed_or_deleted(root):
    entry = audit_record(actor=root, action=AuditAction.CHANGE, obj=root, before={"a": 1}, after={"a": 2})
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    # the database refuses too (PostgreSQL: UPDATE and DELETE; SQLite: UPDATE)
    with pytest.raises((IntegrityError, InternalError, OperationalError, ProgrammingError)), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="delete")
    if connection.vendor == "postgresql":
        with pytest.raises((IntegrityError, InternalError, ProgrammingError)), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == AuditAction.CHANGE


def test_an_unknown_action_is_refused(root):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(actor=root, action="did_something", obj=root)


def test_who_is_kept_with_the_role_at_the_time(root, regulator):
    entry = audit_record(actor=regulator, action=AuditAction.EXPORT, object_type="numbers.event")
    assert (entry.actor_id, entry.actor_name, entry.role) == (regulator.pk, "regulator", roles.REGULATOR)
    system = audit_record(actor="release sweep", action=AuditAction.CHANGE)
    assert (system.actor_id, system.actor_name, system.role) == (None, "release sweep", "system")


def test_a_change_that_fails_leaves_no_entry(frozen_number, regulator):
    with pytest.raises(Exception):  # noqa: B017, PT011  (whatever fails, the transaction rolls back)
        with transaction.atomic():
            risk_mark_place(number=frozen_number, category="fraud", authority="MPS", effect=MarkEffect.SUSPEND,
                            actor=regulator)
            raise RuntimeError("the rest of the change failed")
    assert not RiskMark.objects.exists() and not AuditEntry.objects.exists()


# --- sign-ins ----------------------------------------------------------------------------------------


def test_sign_ins_and_refused_sign_ins_of_the_staff_pages(client, clerk):
    client.post(reverse("staff:login"), {"username": "clerk", "password": "wrong"})
    client.post(reverse("staff:login"), {"username": "nobody", "password": "wrong"})
    client.post(reverse("staff:login"), {"username": "clerk", "password": "pw-for-tests-only"},
                REMOTE_ADDR="10.1.2.3")
    refused = AuditEntry.objects.filter(action=AuditAction.SIGN_IN_REFUSED).order_by("id")
    assert [(e.actor_name, e.actor_id, e.detail) for e in refused] == [
        ("clerk", None, {"site": "staff", "reason": "wrong_password"}),
        ("nobody", None, {"site": "staff", "reason": "wrong_password"})]
    entry = only(AuditAction.SIGN_IN)
    assert (entry.actor_id, entry.role, entry.address, entry.detail) == (
        clerk.pk, roles.SALES_STAFF, "10.1.2.3", {"site": "staff", "second_factor": ""})


# --- admin writes: accounts, groups, profiles, outlets -------------------------------------------------


def test_a_users_groups_and_flags_before_and_after(client, root, regulator):
    sign_in_verified(client, root)
    platform_admins = Group.objects.get(name=roles.PLATFORM_ADMIN)
    response = client.post(reverse("admin:auth_user_change", args=[regulator.pk]), {
        "username": "regulator", "is_active": "on", "is_staff": "on", "groups": [platform_admins.pk],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    assert response.status_code == 302, response.content
    entry = only(AuditAction.CHANGE, object_type="auth.user")
    assert (entry.actor_name, entry.role, entry.object_id) == ("root", "superuser", str(regulator.pk))
    group = Group.objects.get(name=roles.REGULATOR)
    assert entry.before["groups"] == [{"id": group.pk, "text": roles.REGULATOR}]
    assert entry.after["groups"] == [{"id": platform_admins.pk, "text": roles.PLATFORM_ADMIN}]
    assert "password" not in entry.before and "password" not in entry.after


def test_a_password_set_in_admin_is_audited_without_the_password(client, root, regulator):
    sign_in_verified(client, root)
    client.post(reverse("admin:auth_user_password_change", args=[regulator.pk]),
                {"password1": "A-new-passphrase-2026", "password2": "A-new-passphrase-2026", "usable_password": "true"})
    entry = only(AuditAction.PASSWORD_SET)
    assert entry.object_repr == "regulator" and "A-new-passphrase" not in str(entry.detail) + str(entry.after)


def test_a_new_clerk_by_an_operator_administrator(client, cmcc_admin, outlet):
    client.force_login(cmcc_admin)
    client.post(reverse("admin:auth_user_add"), {"username": "new-clerk", "password1": "Clerk-passphrase-2026",
                                                 "password2": "Clerk-passphrase-2026", "outlet": outlet.pk})
    entry = only(AuditAction.CREATE, object_type="auth.user")
    assert entry.actor_name == "cmcc-admin" and entry.role == roles.OPERATOR_ADMIN
    assert entry.after["username"] == "new-clerk" and entry.after["password"] == "set"
    assert entry.after["outlet"]["id"] == outlet.pk and "Clerk-passphrase" not in str(entry.after)


def test_a_clerk_moved_to_another_outlet(client, cmcc_admin, clerk, operator):
    other = OutletFactory(operator=operator, code="BJ-002", name="Beijing Wangfujing")
    client.force_login(cmcc_admin)
    profile = StaffProfile.objects.get(user=clerk)
    client.post(reverse("admin:numbers_staffprofile_change", args=[profile.pk]), {"outlet": other.pk})
    entry = only(AuditAction.CHANGE, object_type="numbers.staffprofile")
    assert entry.before == {"outlet": {"id": profile.outlet_id, "text": "CMCC Beijing Xidan"}}
    assert entry.after == {"outlet": {"id": other.pk, "text": "CMCC Beijing Wangfujing"}}


def test_a_groups_permissions(client, root):
    sign_in_verified(client, root)
    group = Group.objects.create(name="auditors")
    from django.contrib.auth.models import Permission

    perm = Permission.objects.get(codename="view_auditentry")
    client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "auditors", "permissions": [perm.pk]})
    entry = only(AuditAction.CHANGE, object_type="auth.group")
    assert entry.before == {"permissions": []} and [p["id"] for p in entry.after["permissions"]] == [perm.pk]


def test_an_outlet_added_and_deleted(client, root, operator):
    sign_in_verified(client, root)
    client.post(reverse("admin:numbers_outlet_add"), {"operator": operator.pk, "code": "SH-1", "name": "Shanghai"})
    outlet = Outlet.objects.get(code="SH-1")
    created = only(AuditAction.CREATE, object_type="numbers.outlet")
    assert created.after == {"operator": {"id": operator.pk, "text": "CMCC"}, "code": "SH-1", "name": "Shanghai"}
    client.post(reverse("admin:numbers_outlet_delete", args=[outlet.pk]), {"post": "yes"})
    deleted = only(AuditAction.DELETE, object_type="numbers.outlet")
    assert (deleted.object_id, deleted.object_repr) == (str(outlet.pk), "CMCC Shanghai")


# --- risk marks, exports, feed uploads ---------------------------------------------------------------


def test_risk_marks_placed_as_a_list_and_lifted(client, regulator, frozen_number,
                                                django_capture_on_commit_callbacks):
    client.force_login(regulator)
    with django_capture_on_commit_callbacks(execute=True):  # the list's task runs inline
        client.post(reverse("admin:numbers_riskmark_add"), {
            "numbers": frozen_number.msisdn, "category": "fraud", "authority": "MPS", "reference": "R-1",
            "effect": "extend", "extra_days": "30"})
    placed = only(AuditAction.RISK_LIST)
    risk_list = RiskList.objects.get()
    assert (placed.actor_name, placed.object_id) == ("regulator", str(risk_list.pk))
    assert placed.after["authority"] == "MPS" and placed.after["extra_days"] == 30
    mark = RiskMark.objects.get()  # applied by the list's task (inline in tests)
    client.post(reverse("admin:numbers_riskmark_lift", args=[mark.pk]))
    lifted = only(AuditAction.MARK_LIFT)
    assert lifted.before["in_force"] is True and lifted.after["in_force"] is False
    assert lifted.before["frozen_until"] != lifted.after["frozen_until"]  # the freeze went back to 90 days


def test_an_export_names_its_list_filters_and_row_count(client, regulator, frozen_number, active_number):
    client.force_login(regulator)
    response = client.get(reverse("admin:numbers_phonenumber_export_csv"), {"state": "frozen"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    entry = only(AuditAction.EXPORT)
    assert entry.object_type == "numbers.phonenumber" and entry.actor_name == "regulator"
    assert entry.detail == {"list": "numbers.phonenumber", "filters": {"state": "frozen"}, "rows": len(rows) - 1,
                            "complete": True}
    assert len(rows) - 1 == 1


def test_a_feed_upload(client, cmcc_admin, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.PRIVATE_FILES_ROOT = tmp_path
    client.force_login(cmcc_admin)
    upload = SimpleUploadedFile("cancel.csv", b"msisdn,cancelled_at\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("admin:numbers_feedupload_add"), {"kind": "cancellations", "file": upload})
    entry = only(AuditAction.FEED_UPLOAD)
    assert entry.detail == {"operator": "CMCC", "kind": "cancellations", "dry_run": False, "file": "cancel.csv",
                            "bytes": 20}


# --- the regulators' page ----------------------------------------------------------------------------


@pytest.fixture
def trail(root, regulator, cmcc_admin):
    now = timezone.now()
    audit_record(actor=root, action=AuditAction.CHANGE, obj=cmcc_admin, after={"is_active": False},
                 at=now - timedelta(days=3))
    audit_record(actor=cmcc_admin, action=AuditAction.EXPORT, object_type="numbers.event", at=now - timedelta(hours=2))
    audit_record(actor=None, actor_name="mallory", action=AuditAction.SIGN_IN_REFUSED, address="203.0.113.9",
                 detail={"site": "admin", "reason": "password"}, at=now - timedelta(hours=1))
    return now


@pytest.mark.parametrize("query,people", [
    ({}, {"root", "cmcc-admin", "mallory"}),
    ({"actor_name": "mallory"}, {"mallory"}),
    ({"role": roles.OPERATOR_ADMIN}, {"cmcc-admin"}),
    ({"action": "change"}, {"root"}),
    ({"object_type": "auth.user"}, {"root"}),
    ({"q": "cmcc-admin"}, {"root", "cmcc-admin"}),  # a person's name, or an object's
    ({"at__gte": "{yesterday}"}, {"cmcc-admin", "mallory"}),
])
def test_regulators_filter_the_trail_by_person_role_action_object_and_date(client, regulator, trail, query, people):
    client.force_login(regulator)
    yesterday = timezone.localdate(trail - timedelta(days=1)).isoformat()
    query = {k: v.format(yesterday=yesterday) for k, v in query.items()}
    response = client.get(reverse("admin:numbers_auditentry_changelist"), query)
    assert response.status_code == 200
    assert {e.actor_name for e in response.context["cl"].queryset} == people


def test_regulators_export_the_trail_as_csv(client, regulator, trail):
    client.force_login(regulator)
    response = client.get(reverse("admin:numbers_auditentry_export_csv"), {"role": roles.OPERATOR_ADMIN})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(r["person"], r["action"], r["object_type"]) for r in rows] == [("cmcc-admin", "export", "numbers.event")]
    assert only(AuditAction.EXPORT, object_type="numbers.auditentry").detail["rows"] == 1


def test_an_entrys_page_shows_before_and_after_and_cannot_be_changed(client, regulator, trail):
    client.force_login(regulator)
    entry = only(AuditAction.CHANGE)
    page = client.get(reverse("admin:numbers_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200 and "&quot;is_active&quot;: false" in page.content.decode()
    assert b'name="_save"' not in page.content
    assert client.post(reverse("admin:numbers_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("who", ["cmcc-admin", "platform-admin"])
def test_other_admin_roles_do_not_see_the_trail(client, trail, platform_admin, who):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=who))
    assert client.get(reverse("admin:numbers_auditentry_changelist")).status_code == 403
