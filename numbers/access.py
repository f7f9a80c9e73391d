"""Who an account is and whose rows it sees: the one place every admin page, view and check asks.

An account holds one role (docs/security.md): a superuser, or exactly one role group,
with a staff profile for the operator roles (sales staff, operator administrator) and without one
for the roles that work for no operator (regulator, renewal-platform administrator). Anything
else — a profile on a superuser or regulator, two role groups, a role group missing its profile —
is a *mixed* account and sees nothing. An account in no role at all is an *orphan*: only
superusers see it. Both fail closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, TypeVar

from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest

from numbers import roles
from numbers.models import Operator, StaffProfile
from numbers.roles import OPERATOR_ROLES, OPERATORLESS_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    # Whoever made a request: request.user.
    AnyUser: TypeAlias = User | AnonymousUser

_M = TypeVar("_M", bound=Model)


class AuthenticatedHttpRequest(HttpRequest):
    """For type checking: a request past a sign-in check (an admin page or action), made by an account."""

    user: User

ALL_OPERATORS = "all"
SUPERUSER = "superuser"
ORPHAN = "orphan"
MIXED = "mixed"


def user_roles(user: AnyUser) -> frozenset[str]:
    """Return the user's role-group names, cached on the user object for the request."""
    cached: frozenset[str] | None = getattr(user, "_portal_roles", None)
    if cached is None:
        cached = frozenset()
        if user.is_authenticated:
            cached = frozenset(user.groups.filter(name__in=roles.ROLES).values_list("name", flat=True))
        # An attribute the user model does not declare: set by name.
        setattr(user, "_portal_roles", cached)  # noqa: B010
    return cached


def _profile(user: User) -> StaffProfile | None:
    try:
        return user.staff_profile
    except StaffProfile.DoesNotExist:
        return None


def account_role(user: AnyUser) -> str | None:
    """Return the account's one role (a role name, SUPERUSER, ORPHAN or MIXED), or None if signed out."""
    if not (user.is_authenticated and user.is_active):
        return None
    groups = user_roles(user)
    profile = _profile(user)
    if user.is_superuser:
        return SUPERUSER if not groups and profile is None else MIXED
    if not groups:
        return ORPHAN if profile is None else MIXED
    if len(groups) > 1:
        return MIXED
    (role,) = groups
    if (role in OPERATOR_ROLES) != (profile is not None):
        return MIXED
    # A sales staff role has a profile (checked just above).
    if role == roles.SALES_STAFF and profile is not None and (
            profile.outlet_id is None or profile.outlet is None or profile.outlet.operator_id != profile.operator_id):
        return MIXED
    return role


def operator_scope(user: AnyUser) -> Operator | str | None:
    """Return whose rows the user sees: ALL_OPERATORS, one Operator, or None (nothing)."""
    role = account_role(user)
    if role in (SUPERUSER, roles.REGULATOR, roles.PLATFORM_ADMIN):
        return ALL_OPERATORS
    if role in OPERATOR_ROLES and user.is_authenticated:  # an operator role is a signed-in account's
        return user.staff_profile.operator
    return None


def scope_queryset(queryset: QuerySet[_M], user: AnyUser, lookups: tuple[str, ...]) -> QuerySet[_M]:
    """Filter rows to the user's scope: `lookups` name the paths to the rows' operator (any one matches)."""
    scope = operator_scope(user)
    if scope == ALL_OPERATORS:
        return queryset
    if not isinstance(scope, Operator) or not lookups:
        return queryset.none()
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: scope.pk})
    return queryset.filter(condition)


def sales_staff_of(operator: Operator) -> Q:
    """Accounts that are plainly sales staff of `operator`: the only accounts its administrators manage."""
    return Q(staff_profile__operator=operator, staff_profile__outlet__operator=operator, is_superuser=False,
             groups__name=roles.SALES_STAFF)


def managed_users(queryset: QuerySet[User], user: AnyUser) -> QuerySet[User]:
    """Return the accounts `user` may see and manage in admin: all for a superuser, its own sales staff for an
    operator administrator (never itself, a peer, another role or an orphan), none for anyone else."""
    role = account_role(user)
    if role == SUPERUSER:
        return queryset
    if role != roles.OPERATOR_ADMIN or not user.is_authenticated:  # a role is a signed-in account's
        return queryset.none()
    operator = user.staff_profile.operator
    # An account also in another role group is mixed: it belongs to the superusers.
    in_other_roles = queryset.model.objects.filter(groups__name__in=set(roles.ROLES) - {roles.SALES_STAFF})
    return (queryset.filter(sales_staff_of(operator)).exclude(pk__in=in_other_roles.values("pk"))
            .exclude(pk=user.pk).distinct())


def mixed_accounts(queryset: QuerySet[User]) -> QuerySet[User]:
    """Return the active accounts that hold more than one role (for the system check)."""
    with_profile = Q(staff_profile__isnull=False)
    operatorless = Q(groups__name__in=OPERATORLESS_ROLES)
    annotated = queryset.annotate(n_roles=Count("groups", filter=Q(groups__name__in=roles.ROLES), distinct=True))
    return annotated.filter(
        Q(n_roles__gt=1) | (with_profile & (Q(is_superuser=True) | operatorless))
        | (Q(is_superuser=True) & Q(n_roles__gt=0))
    ).distinct()
