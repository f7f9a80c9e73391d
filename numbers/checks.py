from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from numbers.models import LEGAL_FREEZE_DAYS


def check_freeze_days(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    days = settings.MIN_FREEZE_DAYS
    if not isinstance(days, int) or days < LEGAL_FREEZE_DAYS:
        errors.append(
            checks.Error(
                f"MIN_FREEZE_DAYS is {days!r}, but a cancelled number must stay frozen for at least "
                f"{LEGAL_FREEZE_DAYS} days.",
                hint=f"Set MIN_FREEZE_DAYS to {LEGAL_FREEZE_DAYS} or more (or leave it unset for {LEGAL_FREEZE_DAYS}).",
                id="numbers.E001",
            )
        )
    for name in ("RENEWAL_LEAD_DAYS", "RELEASE_GRACE_DAYS"):
        value = getattr(settings, name)
        if not isinstance(value, int) or value < 0:
            errors.append(checks.Error(f"{name} must be a whole number of days, 0 or more; it is {value!r}.",
                                       id="numbers.E002"))
    return errors


def check_one_role_per_account(
    app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Name every account that holds more than one role: such an account sees nothing until a superuser fixes it.

    It reads the database, so, like Django's own database checks, it runs when databases are named:
    `manage.py check --database default`, and every `migrate`.
    """
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    from numbers.access import mixed_accounts

    if not databases:
        return []
    try:
        names = list(mixed_accounts(get_user_model().objects.all()).values_list("username", flat=True)[:50])
    except DatabaseError:  # the first migrate, before the auth tables exist: nothing to check
        return []
    if not names:
        return []
    return [checks.Warning(
        f"These accounts hold more than one role and see nothing in admin: {', '.join(names)}.",
        hint="An account holds one role. Remove the staff profile, or the regulator / renewal-platform "
             "administrator group, or the superuser flag, so that one role is left.",
        id="numbers.W003",
    )]


def register() -> None:
    checks.register(check_freeze_days)
    checks.register(check_one_role_per_account, checks.Tags.security)
