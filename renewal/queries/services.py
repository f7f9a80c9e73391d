"""Reassignment queries: check each item, answer it from the lifecycle's records, audit the call.

A sandbox (or suspended) platform is answered for the reserved test numbers only; real numbers answer it
`no_data`, so an unvetted registrant cannot probe real data. The audit keeps the key, the time and the counts,
never the numbers asked.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.phone import InvalidMsisdn, normalize_msisdn, typed_digits
from numbers.reassignment import (
    NO_DATA,
    Question,
    is_test_number,
    reassignment_answers,
    test_number_answer,
    test_numbers_by_sha256,
)
from renewal.models import ApiKey, PlatformStatus, ReassignmentQueryCall

MAX_QUERY_ITEMS = 1000
_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")


class ItemError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _since(value: Any, today: date) -> date:
    if not isinstance(value, str):
        raise ItemError("validation_error", _("'since' is required: a date, YYYY-MM-DD."))
    try:
        since = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        since = None
    if since is None:
        raise ItemError("validation_error", _("'since' is not a date (use YYYY-MM-DD)."))
    if since > today:
        raise ItemError("validation_error", _("'since' is in the future."))
    return since


def _question(item: Any, today: date) -> tuple[Question, str | None]:
    """Return the item's question, and the test number it names (None for a real number or a hash)."""
    if not isinstance(item, dict):
        raise ItemError("validation_error", _('An item is an object: {"msisdn": "…", "since": "YYYY-MM-DD"}.'))
    unknown = set(item) - {"msisdn", "msisdn_sha256", "since"}
    if unknown:
        raise ItemError("validation_error", _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    if ("msisdn" in item) == ("msisdn_sha256" in item):
        raise ItemError("validation_error", _("Give either 'msisdn' or 'msisdn_sha256', not both."))
    since = _since(item.get("since"), today)
    if "msisdn_sha256" in item:
        digest = item["msisdn_sha256"]
        if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
            raise ItemError("validation_error", _("'msisdn_sha256' is 64 hexadecimal characters (SHA-256)."))
        return Question(since=since, sha256=digest.lower()), None
    raw = item["msisdn"]
    if not isinstance(raw, str):
        raise ItemError("invalid_msisdn", _("'msisdn' is a string: the number in E.164 (+86…) or national form."))
    if is_test_number(raw):
        return Question(since=since), raw
    try:
        msisdn = normalize_msisdn(raw)
    except InvalidMsisdn as exc:
        typed = typed_digits(raw)  # a test number outside any numbering plan, written with separators
        if is_test_number(typed):
            return Question(since=since), typed
        raise ItemError("invalid_msisdn", exc.messages[0]) from None
    if is_test_number(msisdn):
        return Question(since=since), msisdn
    return Question(since=since, msisdn=msisdn), None


def _sandbox_answer(question: Question, test_number: str | None) -> str:
    if test_number is None and question.sha256 is not None:
        test_number = test_numbers_by_sha256().get(question.sha256)
    return test_number_answer(test_number) if test_number else NO_DATA


def reassignment_queries_answer(*, key: ApiKey, items: list[Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """Answer up to MAX_QUERY_ITEMS items in request order and audit the call (with a constant number of queries)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    platform = key.platform
    assert platform is not None, "a platform key"
    real = platform.status == PlatformStatus.LIVE
    results: list[dict[str, Any]] = []
    asked: list[tuple[int, Question]] = []
    for index, item in enumerate(items):
        try:
            question, test_number = _question(item, today)
        except ItemError as exc:
            results.append({"index": index, "error": {"code": exc.code, "message": exc.message}})
            continue
        if not real:
            results.append({"index": index, "answer": _sandbox_answer(question, test_number)})
        elif test_number is not None:  # test numbers are in no inventory: a live platform learns nothing
            results.append({"index": index, "answer": NO_DATA})
        else:
            results.append({"index": index, "answer": None})
            asked.append((index, question))
    answers = reassignment_answers([question for _, question in asked])
    for (index, _asked), answer in zip(asked, answers, strict=True):
        results[index]["answer"] = answer
    _audit(key=key, results=results, now=now)
    return results


def _audit(*, key: ApiKey, results: list[dict[str, Any]], now: datetime) -> None:
    counts = Counter(r.get("answer", "error") for r in results)
    ReassignmentQueryCall.objects.create(key=key, key_prefix=key.prefix, platform_id=key.platform_id, at=now,
                                         items=len(results), yes=counts["yes"], no=counts["no"],
                                         no_data=counts["no_data"], errors=counts["error"])
