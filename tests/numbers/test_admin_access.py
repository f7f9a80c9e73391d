"""Who may do what in admin, checked on every page the admin registry has (not a list kept by hand).

The regulator sees every model of the portal and writes nothing except what ALLOWED_WRITES names;
the event log is read-only for everyone; sales staff never get in; the renewal-platform
administrator sees operators, not numbers.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from numbers import roles
from numbers.models import Event
from tests.factories import UserFactory

PORTAL_APPS = {"numbers", "renewal"}
# The regulator's writes in admin: placing risk marks (the add page) and lifting them (the lift action);
# setting status and notes on harassment reports (the change page, every other field read-only).
ALLOWED_WRITES = {"numbers.riskmark": {"add", "lift_marks"}, "renewal.harassmentreport": {"change"},
                  "renewal.reportauthority": {"add", "change", "delete", "delete_selected"}}
# Pages of the service-owned models: nobody, not even a superuser, writes them in admin.
SERVICE_OWNED = {"numbers.phonenumber", "numbers.holderperiod", "numbers.disclosure", "numbers.declinedoffer",
                 "numbers.event", "numbers.riskmark"}

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
PORTAL = [(m, a) for m, a in REGISTRY if m._meta.app_label in PORTAL_APPS]


def _label(model) -> str:
    return model._meta.label_lower


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _snapshot(model) -> list[dict]:
    return list(model._default_manager.order_by("pk").values())


@pytest.fixture(autouse=True)
def _renewal_rows(renewal_world):
    """Every registered model, the renewal ones included, has a row to open."""


def _sample(model):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the test world has no {_label(model)}: add one to helpers_oversight"
    return obj


# The regulator's model permissions beyond viewing (placing = add, lifting = change; never delete), and
# handling harassment reports (change: status and notes only), keeping the table of who handles each kind, and
# placing risk lists (through the mark form, then only read).
ALLOWED_PERMS = {"numbers.riskmark": {"add", "change"}, "renewal.harassmentreport": {"change"},
                 "renewal.reportauthority": {"add", "change", "delete"}, "numbers.risklist": {"add"}}


@pytest.mark.parametrize("model,model_admin", PORTAL, ids=[_label(m) for m, _a in PORTAL])
def test_regulator_model_permissions(regulator, model, model_admin):
    opts = model._meta
    granted = {action for action in ("view", "add", "change", "delete")
               if regulator.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")}
    assert granted == {"view"} | ALLOWED_PERMS.get(_label(model), set())


def test_the_registry_holds_the_portal_models():
    labels = {_label(m) for m, _a in PORTAL}
    assert {"numbers.phonenumber", "numbers.event", "numbers.riskmark", "numbers.operator"} <= labels


@pytest.mark.parametrize("model,model_admin", PORTAL, ids=[_label(m) for m, _a in PORTAL])
def test_regulator_sees_every_page_read_only(client, regulator, world, model, model_admin):
    client.force_login(regulator)
    obj = _sample(model)
    allowed = ALLOWED_WRITES.get(_label(model), set())
    before = _snapshot(model)

    assert client.get(_url(model, "changelist")).status_code == 200
    page = client.get(_url(model, "change", obj.pk))
    assert page.status_code == 200
    if "change" not in allowed:
        assert b'name="_save"' not in page.content  # a read-only page: no save button
    assert client.get(_url(model, "history", obj.pk)).status_code == 200
    if hasattr(model_admin, "csv_fields"):
        assert client.get(_url(model, "export_csv")).status_code == 200

    # Every write, by page and by direct POST, is refused (an allowed change page with no valid form saves nothing).
    assert client.post(_url(model, "change", obj.pk), {"id": obj.pk}).status_code == (
        200 if "change" in allowed else 403)
    if "delete" not in allowed:
        assert client.get(_url(model, "delete", obj.pk)).status_code == 403
        assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    if "add" not in allowed:
        assert client.get(_url(model, "add")).status_code == 403
        assert client.post(_url(model, "add"), {}).status_code == 403
    # Bulk actions: delete_selected and every action the admin defines, except the allowed ones.
    for action in {"delete_selected", *(model_admin.actions or [])} - allowed:
        name = action if isinstance(action, str) else action.__name__
        response = client.post(_url(model, "changelist"), {"action": name, ACTION_CHECKBOX_NAME: [obj.pk]})
        assert response.status_code in (200, 302, 403)
    assert _snapshot(model) == before


@pytest.mark.parametrize("model,model_admin", PORTAL, ids=[_label(m) for m, _a in PORTAL])
def test_regulator_actions_offered_are_only_the_allowed_ones(rf, regulator, model, model_admin):
    request = rf.get("/")
    request.user = regulator
    offered = set(model_admin.get_actions(request))
    assert offered <= ALLOWED_WRITES.get(_label(model), set())


@pytest.mark.parametrize("model,model_admin", [(m, a) for m, a in PORTAL if _label(m) in SERVICE_OWNED],
                         ids=[_label(m) for m, _a in PORTAL if _label(m) in SERVICE_OWNED])
def test_service_owned_pages_refuse_writes_even_to_a_superuser(admin_client, world, model, model_admin):
    obj = _sample(model)
    before = _snapshot(model)
    if _label(model) != "numbers.riskmark":  # a superuser may place marks (through the services)
        assert admin_client.get(_url(model, "add")).status_code == 403
        assert admin_client.post(_url(model, "add"), {}).status_code == 403
    page = admin_client.get(_url(model, "change", obj.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(_url(model, "change", obj.pk), {"id": obj.pk}).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    admin_client.post(_url(model, "changelist"), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [obj.pk],
                                                 "post": "yes"})
    assert _snapshot(model) == before


def test_event_log_is_read_only_for_every_role(client, world, regulator, platform_admin, admin_user):
    event = Event.objects.order_by("pk").first()
    model_admin = admin.site._registry[Event]
    for user in (regulator, platform_admin, world["CMCC"].admin, admin_user):
        request = RequestFactory().get("/")
        request.user = user
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, event)
        assert not model_admin.has_delete_permission(request, event)
        client.force_login(user)
        assert client.post(_url(Event, "change", event.pk), {"kind": "cancel"}).status_code in (403, 302)
    assert Event.objects.get(pk=event.pk).kind == event.kind


@pytest.mark.parametrize("model,model_admin", REGISTRY, ids=[_label(m) for m, _a in REGISTRY])
def test_sales_staff_never_reach_admin_even_with_is_staff(client, world, model, model_admin):
    clerk = world["CMCC"].clerk
    clerk.is_staff = True  # set by mistake
    clerk.save(update_fields=["is_staff"])
    client.force_login(clerk)
    for url in (_url(model, "changelist"), _url(model, "add")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get(reverse("admin:dashboard")).status_code == 302


def test_sales_staff_cannot_log_in_to_admin(client, world):
    response = client.post(reverse("admin:login"), {"username": "clerk-cm", "password": "pw-for-tests-only"})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_platform_admin_sees_operators_but_not_numbers(client, world, platform_admin):
    client.force_login(platform_admin)
    for model, _model_admin in PORTAL:
        status = client.get(_url(model, "changelist")).status_code
        if _label(model) == "numbers.operator":
            assert status == 200
        elif model._meta.app_label == "numbers":
            assert status == 403, _label(model)
    assert client.get(_url(world["CMCC"].frozen.__class__, "change", world["CMCC"].frozen.pk)).status_code == 403
    assert client.get(reverse("admin:dashboard")).status_code == 403


def test_regulator_manages_no_accounts(client, regulator):
    client.force_login(regulator)
    for model, _model_admin in REGISTRY:
        if model._meta.app_label == "auth":
            assert client.get(_url(model, "changelist")).status_code == 403


def test_operator_admin_cannot_grant_itself_or_its_staff_more(client, world):
    me, clerk = world["CMCC"].admin, world["CMCC"].clerk
    client.force_login(me)
    # its own account is the superusers' to manage (it changes its own password on the site's page)
    assert client.get(reverse("admin:auth_user_change", args=[me.pk])).status_code == 302
    page = client.get(reverse("admin:auth_user_change", args=[clerk.pk]))
    assert page.status_code == 200
    for field in (b'name="is_superuser"', b'name="is_staff"', b'name="groups"', b'name="user_permissions"'):
        assert field not in page.content
    regulator_group = Group.objects.get(name=roles.REGULATOR)
    for target in (me, clerk):
        client.post(reverse("admin:auth_user_change", args=[target.pk]), {
            "username": target.username, "is_active": "on", "is_staff": "on", "is_superuser": "on",
            "groups": [regulator_group.pk], "last_login_0": "", "last_login_1": "",
        })
        target.refresh_from_db()
        assert not target.is_superuser
        assert not target.groups.filter(name=roles.REGULATOR).exists()
    assert not clerk.is_staff


def test_a_staff_account_in_no_role_sees_nothing(client, db):
    """Permissions come from the groups only."""
    nobody = UserFactory(is_staff=True, username="nobody")
    client.force_login(nobody)
    for model, _model_admin in PORTAL:
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))



# --- harassment reports: the regulator sets status and notes, nothing else --------------------------


def _report_form(report, **changes) -> dict:
    data = {"status": report.status, "notes": report.notes, "evidence-TOTAL_FORMS": "0",
            "evidence-INITIAL_FORMS": "0", "evidence-MIN_NUM_FORMS": "0", "evidence-MAX_NUM_FORMS": "1000"}
    return data | changes


def test_regulator_sets_status_and_notes_on_a_report(client, regulator):
    from renewal.models import HarassmentReport

    report = HarassmentReport.objects.get()
    before = _snapshot(HarassmentReport)[0]
    client.force_login(regulator)
    # given a POST that also tries to change the subscriber's fields
    response = client.post(_url(HarassmentReport, "change", report.pk), _report_form(
        report, status="in_review", notes="Asked the sender's carrier.", category="fraud", sender="forged",
        description="rewritten", reference="HR-FORGED", handled_by="someone else"))
    # then only status and notes change, and the change names the regulator
    assert response.status_code == 302
    after = _snapshot(HarassmentReport)[0]
    assert (after["status"], after["notes"], after["handled_by"]) == ("in_review", "Asked the sender's carrier.",
                                                                      "regulator")
    assert after["handled_at"] is not None
    unchanged = {k for k in before if k not in {"status", "notes", "handled_by", "handled_at"}}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert LogEntry.objects.filter(object_id=str(report.pk), user=regulator, action_flag=CHANGE).count() == 1

    client.post(_url(HarassmentReport, "change", report.pk), _report_form(report, status="closed", notes="Done."))
    report.refresh_from_db()
    assert (report.status, report.notes) == ("closed", "Done.")


def test_a_report_status_must_be_one_of_the_choices(client, regulator):
    from renewal.models import HarassmentReport

    report = HarassmentReport.objects.get()
    client.force_login(regulator)
    response = client.post(_url(HarassmentReport, "change", report.pk), _report_form(report, status="deleted"))
    assert response.status_code == 200  # the form again, with an error
    assert HarassmentReport.objects.get().status == "new"


def test_operator_and_platform_admins_cannot_change_reports(client, world, platform_admin):
    from renewal.models import HarassmentReport

    report = HarassmentReport.objects.get()
    for user in (world["CMCC"].admin, world["CUCC"].admin, platform_admin):
        client.force_login(user)
        assert client.get(_url(HarassmentReport, "change", report.pk)).status_code in (403, 302)
        response = client.post(_url(HarassmentReport, "change", report.pk), _report_form(report, status="closed",
                                                                                          notes="not mine"))
        assert response.status_code in (403, 302)
        request = RequestFactory().get("/")
        request.user = user
        assert not admin.site._registry[HarassmentReport].has_change_permission(request, report)
    assert (HarassmentReport.objects.get().status, HarassmentReport.objects.get().notes) == ("new", "")
