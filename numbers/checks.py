from django.conf import settings
from django.core import checks

from numbers.models import LEGAL_FREEZE_DAYS


@checks.register()
def check_freeze_days(app_configs, **kwargs):
    errors = []
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
