"""factory_boy factories for the numbers app. States other than `available` are reached through services."""

from datetime import date
from itertools import count

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from numbers import roles
from numbers.models import Operator, Outlet, PhoneNumber, StaffProfile, State

_msisdn = count(13800000000)


def next_msisdn() -> str:
    return f"+86{next(_msisdn)}"


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"OP{n}")
    name = factory.LazyAttribute(lambda o: f"Operator {o.code}")
    coverage_start = date(2020, 1, 1)


class OutletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outlet

    operator = factory.SubFactory(OperatorFactory)
    code = factory.Sequence(lambda n: f"OUT{n}")
    name = factory.Sequence(lambda n: f"Outlet {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-only")
    is_staff = False


def role_group(role: str) -> Group:
    """Return the role's group; transactional tests flush the rows the data migrations made, so remake them."""
    group = Group.objects.filter(name=role).first()
    if group is None:
        from django.apps import apps

        roles.sync_roles(apps)
        group = Group.objects.get(name=role)
    return group


def staff_user(*, role: str, operator: Operator | None = None, outlet: Outlet | None = None, **kwargs):
    """Return an active user in `role`, tied to an operator and (for sales staff) an outlet."""
    user = UserFactory(is_staff=role != roles.SALES_STAFF, **kwargs)
    user.groups.add(role_group(role))
    if outlet is not None or operator is not None:
        StaffProfile.objects.create(user=user, operator=operator or outlet.operator, outlet=outlet)
    return user


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    msisdn = factory.LazyFunction(next_msisdn)
    range_holder = factory.SubFactory(OperatorFactory)
    serving_operator = factory.SelfAttribute("range_holder")
    state = State.AVAILABLE
