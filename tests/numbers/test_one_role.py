"""An account holds one role, and an operator administrator cannot take over any other account."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from numbers import access, roles
from numbers.models import StaffProfile
from tests.factories import UserFactory, staff_user

User = get_user_model()
PASSWORD = "pw-for-tests-only"


@pytest.mark.parametrize("role", [roles.REGULATOR, roles.PLATFORM_ADMIN])
def test_the_model_refuses_a_profile_on_an_operatorless_role(operator, role):
    user = staff_user(role=role, username="victim")
    with pytest.raises(ValidationError) as raised:
        StaffProfile.objects.create(user=user, operator=operator)
    assert raised.value.code == "one_role"
    assert not StaffProfile.objects.filter(user=user).exists()


def test_the_model_refuses_a_profile_on_a_superuser(operator):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    with pytest.raises(ValidationError):
        StaffProfile.objects.create(user=root, operator=operator)
    assert not StaffProfile.objects.filter(user=root).exists()


@pytest.mark.parametrize("role", [roles.REGULATOR, roles.PLATFORM_ADMIN])
def test_an_operatorless_group_is_refused_on_an_account_with_a_profile_both_ways(operator, role):
    admin_user = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="oa")
    group = Group.objects.get(name=role)
    with pytest.raises(ValidationError), transaction.atomic():
        admin_user.groups.add(group)
    with pytest.raises(ValidationError), transaction.atomic():
        group.user_set.add(admin_user)
    assert not admin_user.groups.filter(name=role).exists()


def test_an_account_with_a_profile_cannot_become_a_superuser(operator):
    admin_user = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="oa")
    admin_user.is_superuser = True
    with pytest.raises(ValidationError):
        admin_user.save()
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser


def test_a_superuser_cannot_make_a_mixed_account_in_admin(admin_client, operator):
    clerk_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="oa")
    response = admin_client.post(reverse("admin:auth_user_change", args=[clerk_admin.pk]), {
        "username": "oa", "is_active": "on", "is_staff": "on", "groups": [Group.objects.get(name=roles.REGULATOR).pk],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "last_login_0": "", "last_login_1": "",
    })
    assert response.status_code == 200
    assert "one role" in str(response.context["adminform"].form.non_field_errors())
    assert list(clerk_admin.groups.values_list("name", flat=True)) == [roles.OPERATOR_ADMIN]


def _mixed(operator, username="mixed"):
    user = staff_user(role=roles.REGULATOR, username=username)
    StaffProfile.objects.bulk_create([StaffProfile(user=user, operator=operator)])  # as made before the guards
    return User.objects.get(pk=user.pk)


def test_a_mixed_account_sees_nothing(client, operator, frozen_number):
    mixed = _mixed(operator)
    assert access.account_role(mixed) == access.MIXED
    assert access.operator_scope(mixed) is None
    client.force_login(mixed)
    response = client.get(reverse("admin:numbers_phonenumber_changelist"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_the_system_check_names_mixed_accounts(operator, capsys):
    _mixed(operator, username="two-hats")
    call_command("check", databases=["default"])
    err = capsys.readouterr().err
    assert "numbers.W003" in err and "two-hats" in err


def test_the_system_check_is_quiet_without_mixed_accounts(operator, capsys):
    staff_user(role=roles.REGULATOR, username="regulator")
    call_command("check", databases=["default"])
    assert "numbers.W003" not in capsys.readouterr().err


# --- the takeover, step by step, as the attacker tried it ------------------------------------------


@pytest.fixture
def victims(operator, other_operator):
    from tests.factories import OutletFactory

    return {
        "superuser": UserFactory(username="root", is_superuser=True, is_staff=True),
        "regulator": staff_user(role=roles.REGULATOR, username="reg"),
        "platform admin": staff_user(role=roles.PLATFORM_ADMIN, username="pa"),
        "peer": staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="peer"),
        "other operator's clerk": staff_user(role=roles.SALES_STAFF, username="their-clerk",
                                             outlet=OutletFactory(operator=other_operator)),
        "orphan": UserFactory(username="orphan", is_staff=True),
    }


@pytest.mark.parametrize("victim", ["superuser", "regulator", "platform admin", "peer", "other operator's clerk",
                                    "orphan"])
def test_an_operator_admin_cannot_take_over_another_account(client, operator, outlet, victims, victim):
    attacker = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")
    target = victims[victim]
    had_profile = StaffProfile.objects.filter(user=target).exists()
    client.force_login(attacker)
    # 1. attach a staff profile of its own operator to the victim
    response = client.post(reverse("admin:numbers_staffprofile_add"),
                           {"user": target.pk, "operator": operator.pk, "outlet": outlet.pk})
    assert response.status_code == 403
    assert StaffProfile.objects.filter(user=target).exists() == had_profile
    # 2. the victim is not in its user list, and its password cannot be set
    names = {u.username for u in client.get(reverse("admin:auth_user_changelist")).context["cl"].queryset}
    assert target.username not in names
    response = client.post(reverse("admin:auth_user_password_change", args=[target.pk]),
                           {"password1": "taken-over-2026", "password2": "taken-over-2026"})
    assert response.status_code in (403, 404)
    target.refresh_from_db()
    assert target.check_password(PASSWORD)


# --- the admin sign-in is limited like the staff pages' ----------------------------------------------


def test_the_admin_sign_in_is_limited_per_account(client, settings, regulator):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 5
    for _ in range(5):
        response = client.post(reverse("admin:login"), {"username": "regulator", "password": "wrong"})
        assert response.status_code == 200
    # the right password is refused too, with the staff pages' status and wait message
    response = client.post(reverse("admin:login"), {"username": "regulator", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account or from this address. Wait 15 minutes" in \
        response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_and_staff_sign_ins_share_one_count(client, settings, regulator):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 4
    for url in (reverse("staff:login"), reverse("admin:login")) * 2:
        client.post(url, {"username": "regulator", "password": "wrong"})
    assert client.post(reverse("admin:login"), {"username": "regulator", "password": PASSWORD}).status_code == 429


def test_the_admin_sign_in_is_limited_per_address(client, settings, db):
    settings.STAFF_LOGIN_FAILURES_PER_ADDRESS = 3
    for name in ("a", "b", "c"):
        client.post(reverse("admin:login"), {"username": name, "password": "wrong"})
    staff_user(role=roles.REGULATOR, username="reg")
    assert client.post(reverse("admin:login"), {"username": "reg", "password": PASSWORD}).status_code == 429


def test_a_good_admin_sign_in_works(client, regulator):
    response = client.post(reverse("admin:login"), {"username": "regulator", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(regulator.pk)
