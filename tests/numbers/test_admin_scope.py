"""An operator administrator sees and acts only on its operator's data, on every numbers admin page."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.models import Operator, Outlet, PhoneNumber, StaffProfile
from numbers.services import number_port

# Risk lists are the regulator's: an operator administrator sees none of them (test_permission_matrix.py).
NUMBERS_ADMINS = sorted(
    [(m, a) for m, a in admin.site._registry.items() if m._meta.app_label == "numbers"
     and m._meta.model_name != "risklist"],
    key=lambda item: item[0]._meta.label_lower,
)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _operators_of(obj, depth: int = 2) -> set[int]:
    """Every operator an object points at, following foreign keys (not users) up to `depth` hops."""
    if isinstance(obj, Operator):
        return {obj.pk}
    found: set[int] = set()
    if depth == 0:
        return found
    for field in obj._meta.concrete_fields:
        if field.is_relation and field.related_model._meta.app_label == "numbers":
            target = getattr(obj, field.name)
            if target is not None:
                found |= _operators_of(target, depth - 1)
    return found


@pytest.mark.parametrize("model,model_admin", NUMBERS_ADMINS, ids=[m._meta.label_lower for m, _a in NUMBERS_ADMINS])
def test_operator_admin_sees_only_its_operator(client, world, model, model_admin):
    mine, theirs = world["CMCC"], world["CUCC"]
    client.force_login(mine.admin)
    response = client.get(_url(model, "changelist") + "?all=")
    assert response.status_code == 200
    shown = list(response.context["cl"].queryset)
    everything = list(model._default_manager.all())
    own = [o for o in everything if _operators_of(o) == {mine.operator.pk}
           and not (model is StaffProfile and o.user == mine.admin)]  # its own profile is the superusers'

    other = [o for o in everything if theirs.operator.pk in _operators_of(o)]
    assert own, f"the test world has no {model._meta.label_lower} of CMCC"
    assert other, f"the test world has no {model._meta.label_lower} of CUCC"
    assert {o.pk for o in shown} == {o.pk for o in own}
    # Another operator's object answers as a missing one: back to the admin index.
    for obj in other:
        response = client.get(_url(model, "change", obj.pk))
        assert response.status_code == 302 and response["Location"] == reverse("admin:index")
        assert client.get(_url(model, "history", obj.pk)).status_code == 302


def test_operator_admin_exports_only_its_operator(client, world):
    client.force_login(world["CMCC"].admin)
    response = client.get(_url(PhoneNumber, "export_csv"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert world["CMCC"].frozen.msisdn in body
    assert world["CUCC"].frozen.msisdn not in body


def test_a_ported_number_is_seen_by_both_operators(client, world):
    # given a CMCC number ported to CUCC (CMCC is its range holder, CUCC serves it)
    number = world["CMCC"].active
    number_port(number=number, from_operator=world["CMCC"].operator, to_operator=world["CUCC"].operator,
                at=timezone.now() - timedelta(minutes=1), actor="test", reported_by=world["CMCC"].operator)
    for who in ("CMCC", "CUCC"):
        client.force_login(world[who].admin)
        assert client.get(_url(PhoneNumber, "change", number.pk)).status_code == 200
    # but the holding's records (the customer reference) stay with the operator that allocated it
    period = number.holder_periods.get(ended_at__isnull=True)
    client.force_login(world["CUCC"].admin)
    assert client.get(_url(period.__class__, "change", period.pk)).status_code == 302


def test_operator_admin_cannot_add_an_outlet_to_another_operator(client, world):
    client.force_login(world["CMCC"].admin)
    response = client.post(_url(Outlet, "add"), {"operator": world["CUCC"].operator.pk, "code": "X-1", "name": "X"})
    assert response.status_code == 200  # the form again
    assert "operator" in response.context["adminform"].form.errors
    assert not Outlet.objects.filter(code="X-1").exists()
    response = client.post(_url(Outlet, "add"), {"operator": world["CMCC"].operator.pk, "code": "X-2", "name": "X"})
    assert response.status_code == 302
    assert Outlet.objects.get(code="X-2").operator == world["CMCC"].operator


def test_operator_admin_cannot_change_another_operators_outlet_by_direct_post(client, world):
    outlet = world["CUCC"].outlet
    client.force_login(world["CMCC"].admin)
    response = client.post(_url(Outlet, "change", outlet.pk), {"operator": world["CMCC"].operator.pk,
                                                              "code": outlet.code, "name": "taken over"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    outlet.refresh_from_db()
    assert outlet.name != "taken over" and outlet.operator == world["CUCC"].operator


def test_operator_admin_sees_its_staff_accounts_only(client, world):
    client.force_login(world["CMCC"].admin)
    response = client.get(reverse("admin:auth_user_changelist"))
    names = {u.username for u in response.context["cl"].queryset}
    assert names == {"clerk-cm"}  # not itself, not its peers, not another operator's staff
    other = world["CUCC"].clerk
    assert client.get(reverse("admin:auth_user_change", args=[other.pk])).status_code == 302
    response = client.post(reverse("admin:auth_user_password_change", args=[other.pk]),
                           {"password1": "a-new-pass-123", "password2": "a-new-pass-123"})
    assert response.status_code in (302, 404)
    other.refresh_from_db()
    assert other.check_password("pw-for-tests-only")


def test_operator_admin_without_a_profile_sees_nothing(client, world):
    lost = world["CMCC"].admin
    StaffProfile.objects.filter(user=lost).delete()
    client.force_login(lost)
    response = client.get(_url(PhoneNumber, "changelist"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_operator_admin_creates_a_clerk_with_its_profile_and_group_in_one_form(client, world):
    client.force_login(world["CMCC"].admin)
    response = client.post(reverse("admin:auth_user_add"), {
        "username": "new-clerk", "password1": "a-long-pass-2026", "password2": "a-long-pass-2026",
        "outlet": world["CMCC"].outlet.pk})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="new-clerk")
    assert not user.is_staff and not user.is_superuser
    assert user.staff_profile.outlet == world["CMCC"].outlet
    assert user.staff_profile.operator == world["CMCC"].operator
    assert list(user.groups.values_list("name", flat=True)) == [roles.SALES_STAFF]


def test_the_staff_form_refuses_another_operators_outlet_and_writes_nothing(client, world):
    client.force_login(world["CMCC"].admin)
    for outlet in ("", world["CUCC"].outlet.pk):
        response = client.post(reverse("admin:auth_user_add"), {
            "username": "new-clerk", "password1": "a-long-pass-2026", "password2": "a-long-pass-2026",
            "outlet": outlet})
        assert response.status_code == 200
        assert "outlet" in response.context["adminform"].form.errors
    assert not get_user_model().objects.filter(username="new-clerk").exists()


def test_operator_admin_adds_no_staff_profile_directly(client, world):
    client.force_login(world["CMCC"].admin)
    orphan = get_user_model().objects.create_user("orphan")
    assert client.get(_url(StaffProfile, "add")).status_code == 403
    response = client.post(_url(StaffProfile, "add"), {
        "user": orphan.pk, "operator": world["CMCC"].operator.pk, "outlet": world["CMCC"].outlet.pk})
    assert response.status_code == 403
    assert not StaffProfile.objects.filter(user=orphan).exists()
