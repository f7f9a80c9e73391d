"""Points where the renewal app plugs into the number lifecycle.

`numbers` must not import `renewal`; the renewal app registers its answers
here in `RenewalConfig.ready()`. Until then the defaults apply: a number whose
freeze is over is releasable, and its renewal status is unknown.
"""

from collections.abc import Callable

from django.db.models import QuerySet


def _releasable_default(queryset: QuerySet, now) -> QuerySet:
    return queryset


def _renewal_status_default(number) -> dict:
    return {"state": "unknown"}


def _release_detail_default(number_ids: list[int], now) -> dict[int, dict]:
    return {}


releasable: Callable[[QuerySet, object], QuerySet] = _releasable_default
renewal_status: Callable[[object], dict] = _renewal_status_default
# Extra detail for the release event of each number (e.g. the platforms that never confirmed).
release_detail: Callable[[list[int], object], dict[int, dict]] = _release_detail_default


def register(*, releasable_filter=None, status=None, release_event_detail=None) -> None:
    global releasable, renewal_status, release_detail
    if releasable_filter is not None:
        releasable = releasable_filter
    if status is not None:
        renewal_status = status
    if release_event_detail is not None:
        release_detail = release_event_detail
