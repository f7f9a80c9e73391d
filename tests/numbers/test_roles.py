from django.contrib.auth.models import Group

from numbers import roles


def test_every_role_is_a_group_with_exactly_its_permissions(db):
    for role in roles.ROLES:
        group = Group.objects.get(name=role)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert granted == roles.ROLE_PERMISSIONS[role] & granted, role
        assert bool(granted) == bool(roles.ROLE_PERMISSIONS[role]), role


def test_platform_engineers_hold_no_model_permission(db):
    # Their platform account area checks their platform itself; admin never lets them in.
    assert not Group.objects.get(name=roles.PLATFORM_ENGINEER).permissions.exists()


def test_sales_staff_cannot_change_numbers_and_regulators_place_marks(db):
    sales = {p.codename for p in Group.objects.get(name=roles.SALES_STAFF).permissions.all()}
    regulator = {p.codename for p in Group.objects.get(name=roles.REGULATOR).permissions.all()}
    assert "change_phonenumber" not in sales and "delete_phonenumber" not in sales
    assert {"add_riskmark", "change_riskmark", "view_event"} <= regulator
    assert not {"change_phonenumber", "change_event", "delete_event", "change_holderperiod"} & regulator
