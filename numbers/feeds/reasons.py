"""Every reason a feed or inventory line is rejected, with the message shown in reports and the API."""

from django.utils.translation import gettext_lazy

# Every rejection reason, with the message shown in reports and the API.
REASONS = {
    "invalid_line": gettext_lazy("The line does not have the fields of the header, or a field has a wrong value."),
    "invalid_msisdn": gettext_lazy("The number does not parse."),
    "invalid_time": gettext_lazy("The time is not an ISO 8601 date and time."),
    "unknown_number": gettext_lazy("The number is not in the portal."),
    "wrong_operator": gettext_lazy("The importing operator does not serve this number."),
    "not_active": gettext_lazy("The number is not active."),
    "future_time": gettext_lazy("The time is in the future."),
    "stale": gettext_lazy("The time is before the current holding began: the number was re-allocated since."),
    "unknown_operator": gettext_lazy("to_operator names no known operator."),
    "same_operator": gettext_lazy("A number cannot be ported to the operator that already serves it."),
    "wrong_country": gettext_lazy("The number belongs to another country than the operator's."),
    "conflicting_lines": gettext_lazy("The file holds conflicting lines for this number; all of them are rejected."),
    "sandbox_number": gettext_lazy(
        "The number is a reserved test number (SANDBOX_NUMBER_PREFIX): no inventory holds it."
    ),
    # Inventory only.
    "invalid_state": gettext_lazy("The state must be available, active or frozen."),
    "missing_holder_since": gettext_lazy("An active number needs holder_since, the start of the current holding."),
    "missing_cancelled_at": gettext_lazy("A frozen number needs cancelled_at, the time of its cancellation."),
    "freeze_not_over": gettext_lazy(
        "An available number cancelled less than the minimum freeze ago: load it as frozen."
    ),
    "number_exists": gettext_lazy(
        "The number is already in the portal with other data; the inventory only adds numbers."
    ),
}
