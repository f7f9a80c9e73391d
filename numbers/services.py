"""Every transition of a number, each in one transaction, under a row lock, writing its event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers import hooks, roles
from numbers.audit import audit_record
from numbers.errors import DisclosureRequired, InvalidTransition, NumberTaken, WrongOperator
from numbers.models import (
    AuditAction,
    DeclinedOffer,
    Disclosure,
    DisclosureMethod,
    Event,
    EventKind,
    HolderPeriod,
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    RiskMark,
    StaffProfile,
    State,
)
from numbers.timefmt import local_time

if TYPE_CHECKING:
    # The model of settings.AUTH_USER_MODEL, as the stubs resolve it; at run time code asks get_user_model().
    from django.contrib.auth.models import User

# Who acted: a staff account, the name of the system part that acted, or None for the system itself.
Actor: TypeAlias = "User | str | None"

# A mark may extend a freeze by at most ten years.
MAX_EXTRA_DAYS = 3650
_ID_NUMBER = re.compile(r"\d{15}|\d{17}[\dXx]")
_CUSTOMER_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")


def actor_label(actor: Actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def validate_customer_ref(value: str) -> str:
    """Return the reference if it is opaque: letters, digits and ._:/- only, never an ID number."""
    value = (value or "").strip()
    if not value:
        raise ValidationError(_("Enter the customer reference from the operator's records."), code="required")
    if _ID_NUMBER.search(value):
        raise ValidationError(
            _("This looks like an identity-document number. Enter the opaque customer reference instead."),
            code="id_number",
        )
    if not _CUSTOMER_REF.fullmatch(value):
        raise ValidationError(
            _("A customer reference is up to 64 letters, digits and . _ : / - (no names, no spaces)."),
            code="invalid",
        )
    return value


def event_write(
    *, number: PhoneNumber, kind: str, from_state: str, to_state: str, actor: Actor,
    at: datetime, reason: str = "", detail: dict[str, Any] | None = None,
) -> Event:
    return Event.objects.create(
        number=number, kind=kind, from_state=from_state, to_state=to_state, actor=actor_label(actor),
        reason=reason, detail=detail or {}, at=at, recorded_at=timezone.now(),
    )


def events_insert_select(
    *, ids_sql: str, ids_params: list[Any], kind: str, from_state: str, to_state: str, actor: Actor,
    at: datetime, reason: str = "", detail: dict[str, Any] | None = None,
) -> int:
    """Write one event per number id that `ids_sql` selects (column `id`), in one INSERT … SELECT."""
    detail_field = Event._meta.get_field("detail")
    sql = (
        f"INSERT INTO {Event._meta.db_table} "
        "(number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
        f"SELECT ids.id, %s, %s, %s, %s, %s, %s, %s, %s FROM ({ids_sql}) AS ids"
    )
    params = [
        kind, from_state, to_state, actor_label(actor), reason,
        detail_field.get_db_prep_value(detail or {}, connection), at, timezone.now(), *ids_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _lock(number: PhoneNumber) -> PhoneNumber:
    return PhoneNumber.objects.select_for_update().select_related("range_holder").get(pk=number.pk)


def _open_period(number: PhoneNumber) -> HolderPeriod:
    return HolderPeriod.objects.select_for_update().get(number=number, ended_at__isnull=True)


def _state_label(state: str) -> str:
    return str(State(state).label) if state in State.values else state


# --- facts shown to people -------------------------------------------------------------------


def number_facts(number: PhoneNumber) -> dict[str, Any]:
    """Return what a customer is told about a number before taking it."""
    return {
        "msisdn": number.msisdn,
        "secondary": number.is_secondary,
        "disconnected_at": number.cancelled_at.isoformat() if number.cancelled_at else None,
        "released_at": number.released_at.isoformat() if number.released_at else None,
        "renewal": hooks.renewal_status(number),
    }


# --- allocation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureInput:
    method: str
    customer_confirmed: bool
    # The customer's signature drawn on the screen, a checked PNG (required when the method is "esign").
    signature_png: bytes | None = None


def number_allocate(
    *, number: PhoneNumber, outlet: Outlet, staff: User, customer_ref: str,
    disclosure: DisclosureInput | None, now: datetime | None = None,
) -> HolderPeriod:
    """Give an available number to a new holder; a secondary number needs the disclosure."""
    written: list[str] = []
    try:
        return _allocate(number=number, outlet=outlet, staff=staff, customer_ref=customer_ref,
                         disclosure=disclosure, now=now, written=written)
    except BaseException:
        # The transaction rolled back: a signature file written for it must not stay behind.
        storage = Disclosure._meta.get_field("signature").storage
        for name in written:
            storage.delete(name)
        raise


@transaction.atomic
def _allocate(
    *, number: PhoneNumber, outlet: Outlet, staff: User, customer_ref: str,
    disclosure: DisclosureInput | None, now: datetime | None, written: list[str],
) -> HolderPeriod:
    customer_ref = validate_customer_ref(customer_ref)
    now = now or timezone.now()
    number = _lock(number)
    if number.state != State.AVAILABLE:
        raise NumberTaken(_("This number was just taken or is no longer available. Choose another number."))
    if number.range_holder_id != outlet.operator_id:
        raise WrongOperator(_("This number belongs to another operator."))
    record = None
    if number.is_secondary:
        if disclosure is None or not disclosure.customer_confirmed:
            raise DisclosureRequired(
                _("This is a secondary number: tell the customer, record how, and confirm that they chose it.")
            )
        if disclosure.method not in DisclosureMethod.values:
            raise DisclosureRequired(_("Choose how the customer was told that the number is secondary."))
        if disclosure.method == DisclosureMethod.ESIGN and not disclosure.signature_png:
            raise DisclosureRequired(_("The customer has not signed: ask them to sign on the screen, or choose "
                                       "another way of telling them."))
        facts = number_facts(number)
        record = Disclosure.objects.create(
            number=number, outlet=outlet, staff=staff, method=disclosure.method, facts=facts,
            customer_confirmed=True, recorded_at=now,
        )
        if disclosure.method == DisclosureMethod.ESIGN and disclosure.signature_png:
            written.append(_signature_store(record, disclosure.signature_png))
    if number.cycle_id:
        # Marks that were not lifted end with their cycle.
        RiskMark.objects.in_force().filter(number=number, cycle_id=number.cycle_id).update(ended_at=now)
    period = HolderPeriod.objects.create(
        number=number, operator=outlet.operator, started_at=now, customer_ref=customer_ref, outlet=outlet,
        staff=staff, requires_disclosure=number.is_secondary, disclosure=record,
    )
    number.state = State.ACTIVE
    number.serving_operator_id = number.range_holder_id
    number.cycle = None
    number.cancelled_at = number.frozen_until = number.released_at = None
    number.save(update_fields=["state", "serving_operator", "cycle", "cancelled_at", "frozen_until",
                               "released_at", "updated_at"])
    event_write(
        number=number, kind=EventKind.ALLOCATE, from_state=State.AVAILABLE, to_state=State.ACTIVE, actor=staff,
        at=now, detail={"outlet": outlet.code, "secondary": period.requires_disclosure,
                        "disclosure": record.pk if record else None},
    )
    if record is not None:
        # In the same transaction: e.g. an unbind request for the new holder while old accounts are still removed.
        hooks.allocated(period, record.facts.get("renewal") or {})
    return period


def _signature_store(record: Disclosure, png: bytes) -> str:
    """Save the signature file with the record and return its name (deleted again if the allocation fails)."""
    record.signature.save("signature.png", ContentFile(png), save=False)
    record.save(update_fields=["signature"])
    return str(record.signature.name)


@transaction.atomic
def disclosure_signatures_prune(*, now: datetime | None = None, chunk_size: int = 1000) -> int:
    """Delete the signature files of disclosures older than SIGNATURE_RETENTION_DAYS; return how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SIGNATURE_RETENTION_DAYS)
    old = list(Disclosure.objects.filter(recorded_at__lt=cutoff).exclude(signature="")
               .select_for_update(skip_locked=True).values_list("pk", "signature")[:chunk_size])
    if not old:
        return 0
    storage = Disclosure._meta.get_field("signature").storage
    Disclosure.objects.filter(pk__in=[pk for pk, _name in old]).update(signature="")
    names = [name for _pk, name in old]

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return len(old)


@transaction.atomic
def number_offer_decline(
    *, number: PhoneNumber, outlet: Outlet, staff: User, reason: str = "", now: datetime | None = None,
) -> DeclinedOffer:
    """Record that a customer chose not to take an offered number; it stays available."""
    now = now or timezone.now()
    number = _lock(number)
    if number.state != State.AVAILABLE:
        raise NumberTaken(_("This number is no longer available."))
    if number.range_holder_id != outlet.operator_id:
        raise WrongOperator(_("This number belongs to another operator."))
    offer = DeclinedOffer.objects.create(
        number=number, outlet=outlet, staff=staff, was_secondary=number.is_secondary,
        reason=reason.strip()[:200], declined_at=now,
    )
    event_write(number=number, kind=EventKind.DECLINE, from_state=number.state, to_state=number.state,
                actor=staff, at=now, detail={"outlet": outlet.code, "secondary": number.is_secondary})
    return offer


# --- cancellation and ports ------------------------------------------------------------------


def _check_report_time(*, at: datetime, now: datetime, period: HolderPeriod) -> None:
    if at > now:
        raise InvalidTransition(_("The time %(at)s is in the future.") % {"at": local_time(at, "second")},
                                code="future_time")
    if period.started_at and at < period.started_at:
        raise InvalidTransition(
            _("The time is before the current holding began: the number was re-allocated since."), code="stale"
        )


def _apply_marks(number: PhoneNumber, now: datetime) -> None:
    """Recompute the freeze and the suspension of a non-active number from its cycle's marks in force."""
    marks = RiskMark.objects.in_force().filter(number=number, cycle_id=number.cycle_id)
    extra = marks.filter(effect=MarkEffect.EXTEND).aggregate(m=Max("extra_days"))["m"] or 0
    suspended = marks.filter(effect=MarkEffect.SUSPEND).exists()
    if number.cycle_id:
        assert number.cancelled_at is not None  # a number with a cycle was cancelled
        number.frozen_until = number.cancelled_at + timedelta(days=settings.MIN_FREEZE_DAYS + extra)
    base = number.suspended_from if number.state == State.SUSPENDED else number.state
    if base == State.AVAILABLE and number.cycle_id and number.frozen_until is not None and number.frozen_until > now:
        base, number.released_at = State.FROZEN, None  # an extended freeze takes a released number back
    if suspended:
        number.state, number.suspended_from = State.SUSPENDED, base
    else:
        number.state, number.suspended_from = base, ""


@transaction.atomic
def number_cancel(
    *, number: PhoneNumber, operator: Operator, at: datetime, actor: Actor, now: datetime | None = None,
) -> PhoneNumber:
    """Close the holding; the number snaps back to its range holder and freezes (or is suspended)."""
    now = now or timezone.now()
    number = _lock(number)
    if number.state != State.ACTIVE:
        raise InvalidTransition(
            _("Only an active number can be cancelled; this one is %(state)s.") % {"state": _state_label(number.state)},
            code="not_active",
        )
    if number.serving_operator_id != operator.pk:
        raise WrongOperator(_("Only the serving operator can cancel this number."))
    period = _open_period(number)
    _check_report_time(at=at, now=now, period=period)
    period.ended_at, period.customer_ref = at, ""
    period.save(update_fields=["ended_at", "customer_ref"])
    snapped_from = number.serving_operator_id
    number.serving_operator_id = number.range_holder_id
    number.cycle, number.cancelled_at, number.released_at = period, at, None
    number.state, number.suspended_from = State.FROZEN, ""
    _apply_marks(number, now)
    number.save()
    assert number.frozen_until is not None  # _apply_marks froze it: the number has a cycle now
    detail = {"operator": operator.code, "frozen_until": number.frozen_until.isoformat()}
    if snapped_from != number.range_holder_id:
        detail["returned_to"] = number.range_holder.code
    event_write(number=number, kind=EventKind.CANCEL, from_state=State.ACTIVE, to_state=number.state,
                actor=actor, at=at, detail=detail)
    return number


@transaction.atomic
def number_port(
    *, number: PhoneNumber, from_operator: Operator, to_operator: Operator, at: datetime, actor: Actor,
    reported_by: Operator, now: datetime | None = None,
) -> PhoneNumber:
    """Move an active number to another serving operator; the holding goes on (a port is no disconnection)."""
    now = now or timezone.now()
    number = _lock(number)
    if number.state != State.ACTIVE:
        raise InvalidTransition(
            _("Only an active number can be ported; this one is %(state)s.") % {"state": _state_label(number.state)},
            code="not_active",
        )
    if number.serving_operator_id != from_operator.pk:
        raise WrongOperator(_("This number is not served by %(code)s.") % {"code": from_operator.code})
    if from_operator.pk == to_operator.pk:
        raise InvalidTransition(_("A number cannot be ported to the operator that already serves it."),
                                code="same_operator")
    _check_report_time(at=at, now=now, period=_open_period(number))
    number.serving_operator = to_operator
    number.save(update_fields=["serving_operator", "updated_at"])
    kind = EventKind.PORT_OUT if reported_by.pk == from_operator.pk else EventKind.PORT_IN
    event_write(number=number, kind=kind, from_state=State.ACTIVE, to_state=State.ACTIVE, actor=actor, at=at,
                detail={"from_operator": from_operator.code, "to_operator": to_operator.code})
    return number


# --- risk marks ------------------------------------------------------------------------------


@transaction.atomic
def risk_mark_place(
    *, number: PhoneNumber, category: str, authority: str, reference: str = "", effect: str,
    extra_days: int | None = None, actor: Actor, now: datetime | None = None,
) -> RiskMark:
    """Place a mark on the number's current cycle (an active number's mark waits for its next one)."""
    now = now or timezone.now()
    if category not in MarkCategory.values:
        raise ValidationError(_("Choose a category: fraud, harassing marketing or other."), code="category")
    if not (authority or "").strip():
        raise ValidationError(_("Name the authority that issued the mark."), code="authority")
    if effect == MarkEffect.EXTEND:
        if not isinstance(extra_days, int) or not 1 <= extra_days <= MAX_EXTRA_DAYS:
            raise ValidationError(_("An extension is between 1 and %(max)d days.") % {"max": MAX_EXTRA_DAYS},
                                  code="extra_days")
    elif effect == MarkEffect.SUSPEND:
        extra_days = None
    else:
        raise ValidationError(_("Choose an effect: extend the freeze or suspend."), code="effect")
    number = _lock(number)
    cycle: HolderPeriod | None
    if number.state == State.ACTIVE:
        cycle = _open_period(number)
    else:
        cycle = number.cycle
    if effect == MarkEffect.EXTEND and cycle is None:
        raise InvalidTransition(_("This number was never used, so it has no freeze to extend: suspend it instead."),
                                code="no_freeze")
    mark = RiskMark.objects.create(
        number=number, cycle=cycle, category=category, authority=authority.strip(), reference=reference.strip(),
        effect=effect, extra_days=extra_days, placed_at=now, placed_by=actor if not isinstance(actor, str) else None,
    )
    _mark_changed(number, mark, kind=EventKind.MARK_PLACED, actor=actor, now=now)
    audit_record(actor=actor, action=AuditAction.MARK_PLACE, obj=mark, at=now, after=_mark_terms(number, mark))
    return mark


@transaction.atomic
def risk_mark_lift(*, mark: RiskMark, actor: Actor, now: datetime | None = None) -> RiskMark:
    """Lift a mark; the last suspend mark lifted returns the number to where it was."""
    now = now or timezone.now()
    number = _lock(mark.number)
    mark = RiskMark.objects.select_for_update().get(pk=mark.pk)
    if not mark.in_force:
        raise InvalidTransition(_("This mark was already lifted or ended with its cycle."), code="not_in_force")
    mark.lifted_at = now
    mark.lifted_by = actor if not isinstance(actor, str) and actor is not None else None
    mark.save(update_fields=["lifted_at", "lifted_by"])
    before = {"in_force": True, "state": number.state,
              "frozen_until": number.frozen_until}
    _mark_changed(number, mark, kind=EventKind.MARK_LIFTED, actor=actor, now=now)
    audit_record(actor=actor, action=AuditAction.MARK_LIFT, obj=mark, at=now, before=before,
                 after={"in_force": False, "state": number.state, "frozen_until": number.frozen_until})
    return mark


def _mark_terms(number: PhoneNumber, mark: RiskMark) -> dict[str, Any]:
    return {"number": number.msisdn, "category": mark.category, "effect": mark.effect,
            "extra_days": mark.extra_days, "authority": mark.authority, "reference": mark.reference,
            "state": number.state, "frozen_until": number.frozen_until}


def _mark_changed(number: PhoneNumber, mark: RiskMark, *, kind: str, actor: Actor, now: datetime) -> None:
    from_state = number.state
    if number.state != State.ACTIVE:
        _apply_marks(number, now)
        number.save(update_fields=["state", "suspended_from", "frozen_until", "released_at", "updated_at"])
    event_write(
        number=number, kind=kind, from_state=from_state, to_state=number.state, actor=actor, at=now,
        reason=mark.category,  # a code: pages show it in the reader's language
        detail={"mark": mark.pk, "effect": mark.effect, "extra_days": mark.extra_days, "authority": mark.authority,
                "reference": mark.reference,
                "frozen_until": number.frozen_until.isoformat() if number.frozen_until else None},
    )


# --- release ---------------------------------------------------------------------------------


def release_sweep(*, now: datetime | None = None, chunk_size: int | None = None) -> int:
    """Release every releasable frozen number, in chunks locked in id order; return how many."""
    now = now or timezone.now()
    chunk_size = chunk_size or settings.SWEEP_CHUNK_SIZE
    released = 0
    while True:
        with transaction.atomic():
            candidates = hooks.releasable(PhoneNumber.objects.releasable(now), now)
            ids = list(
                candidates.order_by("id").select_for_update(skip_locked=True).values_list("id", flat=True)[:chunk_size]
            )
            if ids:
                _release(ids, now)
        released += len(ids)
        if len(ids) < chunk_size:
            return released


def _release(ids: list[int], now: datetime) -> None:
    PhoneNumber.objects.filter(id__in=ids, state=State.FROZEN).update(
        state=State.AVAILABLE, is_secondary=True, released_at=now, updated_at=now
    )
    # One event per number with its detail (whether its renewal was complete, who never confirmed), written
    # set-based: the renewal app gives the detail as SQL (numbers.hooks.release_detail_sql).
    table = PhoneNumber._meta.db_table
    ids_params: list[Any]
    if connection.vendor == "postgresql":
        # One array parameter, not thousands: the ids are named in several statements.
        ids_sql, ids_params = f"SELECT id FROM {table} WHERE id = ANY(%s)", [list(ids)]
    else:
        ids_sql, ids_params = f"SELECT id FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})", [*ids]
    details_sql, params = hooks.release_detail_sql(ids_sql, ids_params, now)
    detail = "CAST(d.detail AS jsonb)" if connection.vendor == "postgresql" else "d.detail"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} "
            "(number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
            f"SELECT d.id, %s, %s, %s, %s, '', {detail}, %s, %s FROM ({details_sql}) AS d ORDER BY d.id",
            [EventKind.RELEASE, State.FROZEN, State.AVAILABLE, "release sweep", now, now, *params])


def sales_staff_create(*, user: User, outlet: Outlet) -> StaffProfile:
    """Save a new account as sales staff of `outlet`: the user, its staff profile and its group together."""
    with transaction.atomic():
        user.is_staff = False  # sales staff work on the outlet pages, never in admin
        user.is_superuser = False
        user.save()
        profile = StaffProfile.objects.create(user=user, operator=outlet.operator, outlet=outlet)
        user.groups.add(Group.objects.get(name=roles.SALES_STAFF))
    return profile
