"""Points where the renewal app plugs into the number lifecycle.

`numbers` must not import `renewal`; the renewal app registers its answers
here in `RenewalConfig.ready()`. Until then the defaults apply: a number whose
freeze is over is releasable, and its renewal status is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

if TYPE_CHECKING:
    from numbers.models import HolderPeriod, PhoneNumber

# A number's renewal status (the keys are described at `renewal_statuses` below).
Status = dict[str, Any]


def _releasable_default(queryset: QuerySet[PhoneNumber], now: datetime) -> QuerySet[PhoneNumber]:
    return queryset


def _renewal_status_default(number: PhoneNumber) -> Status:
    return {"state": "unknown"}


def _release_detail_default(number_ids: list[int], now: datetime) -> dict[int, dict[str, Any]]:
    return {}


def _release_detail_sql_default(ids_sql: str, ids_params: list[Any], now: datetime) -> tuple[str, list[Any]]:
    return f"SELECT ids.id AS id, %s AS detail FROM ({ids_sql}) AS ids", ["{}", *ids_params]


def _renewal_statuses_default(numbers: Iterable[PhoneNumber]) -> dict[int, Status]:
    # Only the one-number hook was registered (or none): ask it per number. The renewal app should
    # register `statuses=` too, so that a page of the number book costs a fixed number of queries.
    return {number.pk: renewal_status(number) for number in numbers}


releasable: Callable[[QuerySet[PhoneNumber], datetime], QuerySet[PhoneNumber]] = _releasable_default
renewal_status: Callable[[PhoneNumber], Status] = _renewal_status_default
# The same answer for many numbers at once: {number id: status}. A status is a dict with the keys
# "state" ("complete" | "in_progress" | "not_started" | "unknown") and, when known, "confirmed" (N),
# "total" (M) and "never_confirmed" (platform names); docs/sales.md shows how the sales pages render it.
renewal_statuses: Callable[[Iterable[PhoneNumber]], dict[int, Status]] = _renewal_statuses_default
# Extra detail for the release event of each number (e.g. the platforms that never confirmed).
release_detail: Callable[[list[int], datetime], dict[int, dict[str, Any]]] = _release_detail_default
# The same detail as SQL, for the release sweep's INSERT … SELECT of its events: given the SQL selecting the
# released ids (column `id`) and its parameters, return (SQL selecting `id` and `detail`, the JSON text of the
# release event's detail; its parameters).
ReleaseDetailSql = Callable[[str, list[Any], datetime], tuple[str, list[Any]]]
release_detail_sql: ReleaseDetailSql = _release_detail_sql_default


def register(*, releasable_filter: Callable[[QuerySet[PhoneNumber], datetime], QuerySet[PhoneNumber]],
             status: Callable[[PhoneNumber], Status],
             statuses: Callable[[Iterable[PhoneNumber]], dict[int, Status]],
             release_event_detail: Callable[[list[int], datetime], dict[int, dict[str, Any]]],
             release_event_detail_sql: ReleaseDetailSql | None = None) -> None:
    """Plug the renewal app's answers in (called once, by RenewalConfig.ready)."""
    global releasable, renewal_status, renewal_statuses, release_detail, release_detail_sql
    releasable, renewal_status, renewal_statuses = releasable_filter, status, statuses
    release_detail = release_event_detail
    release_detail_sql = release_event_detail_sql or _release_detail_sql_default


# --- call-outs of the sales pages --------------------------------------------------------------------------------


def _sms_send_default(to: str, body: str) -> None:
    raise RuntimeError("No SMS sender is registered (the renewal app registers one in RenewalConfig.ready).")


def _allocated_default(period: HolderPeriod, renewal: Status) -> None:
    return None


# Send one SMS (after the current transaction commits).
sms_send: Callable[[str, str], None] = _sms_send_default
# Called inside number_allocate's transaction with the new holder period and the number's renewal status as the
# customer was told it: the renewal app asks the platforms to unbind for the new holder when removal is unfinished.
allocated: Callable[[HolderPeriod, Status], None] = _allocated_default


def register_callouts(*, send_sms: Callable[[str, str], None],
                      on_allocated: Callable[[HolderPeriod, Status], None]) -> None:
    """Plug in the SMS sender and what follows an allocation (called once, by RenewalConfig.ready)."""
    global sms_send, allocated
    sms_send, allocated = send_sms, on_allocated
