"""Number-book queries for sales staff: an operator's available numbers, searched and paged by keyset.

On PostgreSQL the partial indexes of migration 0005_sales answer them: "contains" uses the trigram
GIN index, "ends with" a prefix search on the reversed number, and paging walks (operator, number).
Paging is by keyset (`after` / `before` a number), never by OFFSET or COUNT, so page 1,000 of a
million-number book costs what page 1 costs.
"""

from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db.models import BooleanField, F, Func, QuerySet, Value
from django.db.models.functions import Reverse, Substr

from numbers import hooks, roles
from numbers.models import Operator, Outlet, PhoneNumber, State

PAGE_SIZE = 50

MATCH_CONTAINS = "contains"
MATCH_ENDS = "ends"
KIND_SECONDARY = "secondary"
KIND_NEW = "new"


class Like(Func):
    """`<expression> LIKE <pattern>`: the pattern is built here from digits only, never from raw input."""

    arg_joiner = " LIKE "
    template = "%(expressions)s"
    output_field = BooleanField()


@dataclass(frozen=True)
class BookQuery:
    digits: str = ""
    match: str = MATCH_CONTAINS
    kind: str = ""  # "", KIND_SECONDARY or KIND_NEW
    after: str = ""
    before: str = ""


@dataclass
class BookPage:
    numbers: list[PhoneNumber]
    statuses: dict[int, dict]
    next_after: str | None
    prev_before: str | None


def staff_outlet(user) -> Outlet | None:
    """Return the outlet of an active sales-staff user, or None for anyone else."""
    if not (user and user.is_authenticated and user.is_active):
        return None
    if not user.groups.filter(name=roles.SALES_STAFF).exists():
        return None
    # The profile's operator must be its outlet's operator: a mismatched profile is refused, not guessed.
    return Outlet.objects.select_related("operator").filter(staff__user=user, staff__operator=F("operator")).first()


def _country_prefix() -> str:
    return f"+{phonenumbers.country_code_for_region(settings.PHONE_REGION)}"


def available_numbers(operator: Operator) -> QuerySet:
    """Return the numbers this operator may sell now: its own range, available (never suspended or frozen)."""
    return PhoneNumber.objects.filter(range_holder=operator, state=State.AVAILABLE)


def number_book_search(queryset: QuerySet, query: BookQuery) -> QuerySet:
    """Narrow the book by pattern and kind. `query.digits` holds digits only (the form checks it)."""
    if query.kind == KIND_SECONDARY:
        queryset = queryset.filter(is_secondary=True)
    elif query.kind == KIND_NEW:
        queryset = queryset.filter(is_secondary=False)
    if query.digits:
        if query.match == MATCH_ENDS:
            # reverse(msisdn) LIKE '8888%': a prefix search the number_avail_suffix index answers.
            queryset = queryset.filter(Like(Reverse("msisdn"), Value(query.digits[::-1] + "%")))
        else:
            # The digits must sit in the national part, so "861" does not match every number through
            # its country code: a filter on substr(msisdn, 4), which no index serves. With 3 digits or
            # more, msisdn LIKE '%8888%' lets the trigram index find the candidates first (the country
            # code is left out of that pattern on purpose: its trigrams are in every row).
            national = Substr("msisdn", len(_country_prefix()) + 1)
            queryset = queryset.filter(Like(national, Value(f"%{query.digits}%")))
            if len(query.digits) >= 3:
                queryset = queryset.filter(Like(F("msisdn"), Value(f"%{query.digits}%")))
    return queryset


def number_book_page(operator: Operator, query: BookQuery, *, page_size: int = PAGE_SIZE) -> BookPage:
    """Return one page of the book, in number order, with every number's renewal status (batched)."""
    queryset = number_book_search(available_numbers(operator), query)
    fields = ["id", "msisdn", "is_secondary", "cancelled_at", "released_at", "state", "range_holder_id", "cycle_id"]
    queryset = queryset.only(*fields)
    if query.before:
        rows = list(queryset.filter(msisdn__lt=query.before).order_by("-msisdn")[: page_size + 1])
        has_more_before = len(rows) > page_size
        rows = rows[:page_size][::-1]
        prev_before = rows[0].msisdn if rows and has_more_before else None
        next_after = rows[-1].msisdn if rows else None
    else:
        if query.after:
            queryset = queryset.filter(msisdn__gt=query.after)
        rows = list(queryset.order_by("msisdn")[: page_size + 1])
        has_more_after = len(rows) > page_size
        rows = rows[:page_size]
        next_after = rows[-1].msisdn if rows and has_more_after else None
        prev_before = rows[0].msisdn if rows and query.after else None
    secondary = [n for n in rows if n.is_secondary]
    statuses = hooks.renewal_statuses(secondary) if secondary else {}
    return BookPage(numbers=rows, statuses=statuses, next_after=next_after, prev_before=prev_before)


RENEWAL_STATES = ("complete", "in_progress", "not_started", "unknown")


def renewal_display(status: dict | None) -> dict:
    """Return a renewal status (numbers.hooks) with every key present, whatever the hook left out."""
    status = status if isinstance(status, dict) else {}
    state = status.get("state") if status.get("state") in RENEWAL_STATES else "unknown"
    confirmed, total = status.get("confirmed"), status.get("total")
    has_counts = isinstance(confirmed, int) and isinstance(total, int) and total > 0
    never = status.get("never_confirmed") or []
    return {
        "state": state,
        "confirmed": confirmed if has_counts else None,
        "total": total if has_counts else None,
        "has_counts": has_counts,
        "never_confirmed": [str(name) for name in never] if isinstance(never, list | tuple) else [],
    }
