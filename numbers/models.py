"""The number lifecycle: operators, outlets, numbers, holder periods, risk marks, disclosures, events.

A number's *current cycle* (docs/lifecycle.md) is identified by the
holder period that ended last (`PhoneNumber.cycle`); the freeze of that cycle
is the number's `cancelled_at`, `frozen_until` and `released_at`. While a
number is active it has no cycle, and risk marks placed then belong to its
open holder period: the period that will identify the next cycle.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Never

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from numbers.phone import msisdn_sha256
from numbers.roles import OPERATORLESS_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The legal floor of a freeze. MIN_FREEZE_DAYS may raise it, never lower it (numbers.checks).
LEGAL_FREEZE_DAYS = 90


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_FILES_ROOT: outside the web root, never given a URL, served only by checked views."""

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_FILES_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    # The stubs say str, but FileSystemStorage itself allows None: it then refuses to make a URL.
    @property
    def base_url(self) -> None:  # type: ignore[override]
        return None

    def url(self, name: str | None) -> Never:
        raise ValueError("Private files have no URL.")

    def _save(self, name: str, content: Any) -> str:
        existed = self.exists(name)
        try:
            return str(super()._save(name, content))  # type: ignore[misc]  # the stubs leave out _save
        except OSError:
            # A full disk (ENOSPC) stops the write part-way: remove what was written, so that no half file stays
            # behind the transaction that rolls back.
            if not existed:
                with contextlib.suppress(OSError):
                    os.remove(self.path(name))
            raise


def private_storage() -> PrivateStorage:
    return PrivateStorage()


def _default_country() -> str:
    return str(settings.PHONE_REGION).upper()


class Operator(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True, help_text=_("e.g. CMCC"))
    name = models.CharField(_("name"), max_length=100)
    country = models.CharField(
        # db_default: rows written by raw SQL (bulk loads, benchmarks) get the portal's usual country too.
        _("country"), max_length=2, default=_default_country, db_default="CN",
        help_text=_("ISO 3166 alpha-2 code of the country whose numbers the operator holds (e.g. CN). Inventory, "
                    "feed and API lines with a number of another country are refused (wrong_country)."),
    )
    coverage_start = models.DateField(
        _("data coverage start"),
        help_text=_("Disconnections before this date are not in the portal's data."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("operator")
        verbose_name_plural = _("operators")

    def __str__(self) -> str:
        return self.code


class Outlet(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="outlets", verbose_name=_("operator"))
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        ordering = ["operator", "code"]
        constraints = [models.UniqueConstraint(fields=["operator", "code"], name="outlet_code_unique")]
        verbose_name = _("outlet")
        verbose_name_plural = _("outlets")

    def __str__(self) -> str:
        return f"{self.operator.code} {self.name}"


class StaffProfile(models.Model):
    """Ties a staff account to its operator and, for sales staff, to one outlet."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile",
                                verbose_name=_("user"))
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="staff", verbose_name=_("operator"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, null=True, blank=True, related_name="staff",
                               verbose_name=_("outlet"))

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return _("%(user)s at %(where)s") % {"user": self.user, "where": self.outlet or self.operator}

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Whatever page, command or API saves a profile: an account holds one role.
        self.check_one_role(self.user)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.user_id is not None:
            self.check_one_role(self.user)
        if (self.outlet_id is not None and self.operator_id is not None and self.outlet is not None
                and self.outlet.operator_id != self.operator_id):
            raise ValidationError({"outlet": _("The outlet belongs to another operator.")}, code="wrong_operator")

    @staticmethod
    def check_one_role(user: User) -> None:
        """Refuse a staff profile on a superuser or on an account whose role works for no operator."""
        if user.is_superuser:
            raise ValidationError(_("A superuser cannot have a staff profile: an account holds one role."),
                                  code="one_role")
        if user.pk and user.groups.filter(name__in=OPERATORLESS_ROLES).exists():
            raise ValidationError(_("A regulator or renewal-platform administrator cannot have a staff profile: "
                                    "an account holds one role."), code="one_role")


class State(models.TextChoices):
    AVAILABLE = "available", _("available")
    ACTIVE = "active", _("active")
    FROZEN = "frozen", _("frozen")
    SUSPENDED = "suspended", _("suspended")


class PhoneNumberQuerySet(models.QuerySet["PhoneNumber"]):
    def releasable(self, now: datetime) -> PhoneNumberQuerySet:
        """Return frozen numbers whose freeze is over, by the marks and by the current MIN_FREEZE_DAYS."""
        return self.filter(
            state=State.FROZEN,
            frozen_until__lte=now,
            cancelled_at__lte=now - timedelta(days=settings.MIN_FREEZE_DAYS),
        )

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[PhoneNumber]:
        objs = list(objs)
        for number in objs:
            number.fill_sha256()
        return super().bulk_create(objs, *args, **kwargs)


class PhoneNumber(models.Model):
    msisdn = models.CharField(_("number (E.164)"), max_length=16, unique=True)
    # Hashed reassignment queries look a number up by this column (never by hashing the table). Set wherever a
    # number is written: save(), bulk_create() and the inventory import's INSERT … SELECT.
    msisdn_sha256 = models.CharField(_("SHA-256 of the number"), max_length=64, unique=True, null=True, blank=True,
                                     editable=False)
    range_holder = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="range_numbers", verbose_name=_("range holder")
    )
    serving_operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="served_numbers", verbose_name=_("serving operator")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.AVAILABLE)
    suspended_from = models.CharField(
        _("suspended from"),
        max_length=10,
        choices=[(State.AVAILABLE, State.AVAILABLE.label), (State.FROZEN, State.FROZEN.label)],
        blank=True,
        default="",
    )
    is_secondary = models.BooleanField(_("secondary"), default=False, help_text=_("Held before and released again."))
    cycle = models.ForeignKey(
        "HolderPeriod",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("current cycle"),
        help_text=_("The holder period whose end began the current recycling cycle."),
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    frozen_until = models.DateTimeField(_("frozen until"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PhoneNumberQuerySet.as_manager()

    class Meta:
        ordering = ["msisdn"]
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        permissions = [("upload_feed", _("Can upload cancellation and port feeds"))]
        indexes = [
            models.Index(fields=["state", "frozen_until"], name="number_state_frozen_until"),
            models.Index(fields=["serving_operator", "state"], name="number_serving_state"),
            models.Index(fields=["range_holder", "state"], name="number_range_state"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=State.values), name="number_state_valid"),
            models.CheckConstraint(
                condition=(Q(state=State.SUSPENDED) & Q(suspended_from__in=[State.AVAILABLE, State.FROZEN]))
                | (~Q(state=State.SUSPENDED) & Q(suspended_from="")),
                name="number_suspended_from_iff_suspended",
            ),
            models.CheckConstraint(
                condition=~Q(state=State.FROZEN)
                | Q(cancelled_at__isnull=False, frozen_until__isnull=False),
                name="number_frozen_has_freeze",
            ),
            models.CheckConstraint(
                condition=Q(frozen_until__isnull=True)
                | Q(frozen_until__gte=F("cancelled_at") + timedelta(days=LEGAL_FREEZE_DAYS)),
                name="number_freeze_at_least_90_days",
            ),
            # The legal floor: nothing is released less than 90 days after its cancellation.
            models.CheckConstraint(
                condition=Q(released_at__isnull=True)
                | Q(released_at__gte=F("cancelled_at") + timedelta(days=LEGAL_FREEZE_DAYS)),
                name="number_release_after_90_days",
            ),
        ]

    def __str__(self) -> str:
        return self.msisdn

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_sha256()
        fields = kwargs.get("update_fields")
        if fields is not None and "msisdn" in fields:
            kwargs["update_fields"] = {*fields, "msisdn_sha256"}
        super().save(*args, **kwargs)

    def fill_sha256(self) -> None:
        if self.msisdn:
            self.msisdn_sha256 = msisdn_sha256(self.msisdn)

    @property
    def national(self) -> str:
        from numbers.phone import format_national

        return format_national(self.msisdn)


class HolderPeriod(models.Model):
    """One holding of a number, from allocation to cancellation."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="holder_periods",
                               verbose_name=_("number"))
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="+", verbose_name=_("allocating operator")
    )
    started_at = models.DateTimeField(
        _("started at"), null=True, blank=True, help_text=_("Empty when the real start is unknown (imported).")
    )
    ended_at = models.DateTimeField(_("ended at (cancellation)"), null=True, blank=True)
    customer_ref = models.CharField(
        _("customer reference"),
        max_length=64,
        blank=True,
        help_text=_("Opaque reference from the operator's records; cleared when the period ends."),
    )
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("outlet"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("served by"),
    )
    requires_disclosure = models.BooleanField(
        _("secondary at allocation"), default=False, help_text=_("Allocated as a secondary number.")
    )
    disclosure = models.OneToOneField(
        "Disclosure", on_delete=models.PROTECT, null=True, blank=True, related_name="holder_period",
        verbose_name=_("disclosure"),
    )

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("holder period")
        verbose_name_plural = _("holder periods")
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=Q(ended_at__isnull=True), name="one_open_period_per_number"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="period_ends_after_start",
            ),
            # A secondary number is never allocated without a disclosure, written in the same transaction.
            models.CheckConstraint(
                condition=Q(requires_disclosure=False) | Q(disclosure__isnull=False),
                name="secondary_allocation_has_disclosure",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(customer_ref=""),
                name="closed_period_has_no_customer_ref",
            ),
        ]

    def __str__(self) -> str:
        from numbers.timefmt import local_time

        return f"{self.number} {local_time(self.started_at) or '?'} – {local_time(self.ended_at)}"


def _signature_file_name(instance: Disclosure, filename: str) -> str:
    # Never a name from the client: the path is ours.
    return f"signatures/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.png"


class DisclosureMethod(models.TextChoices):
    SPOKEN = "spoken", _("told in person (spoken)")
    WRITTEN = "written", _("written notice")
    ESIGN = "esign", _("electronic signature")


class Disclosure(models.Model):
    """What a customer was told before taking a secondary number."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="disclosures",
                               verbose_name=_("number"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="disclosures", verbose_name=_("outlet"))
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("served by"))
    method = models.CharField(_("how the customer was told"), max_length=10, choices=DisclosureMethod.choices)
    facts = models.JSONField(_("facts shown"), help_text=_("Disconnection date and renewal status as shown."))
    customer_confirmed = models.BooleanField(_("customer confirmed"))
    recorded_at = models.DateTimeField(_("recorded at"))
    # The customer's signature drawn on the screen (method "esign"), a PNG under PRIVATE_FILES_ROOT: shown on the
    # receipt, served to regulators and the operator's administrators, deleted after SIGNATURE_RETENTION_DAYS.
    signature = models.FileField(_("signature"), storage=private_storage, upload_to=_signature_file_name,
                                 max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("disclosure")
        verbose_name_plural = _("disclosures")
        constraints = [
            models.CheckConstraint(condition=Q(customer_confirmed=True), name="disclosure_confirmed"),
            models.CheckConstraint(condition=Q(method__in=DisclosureMethod.values), name="disclosure_method_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_method_display()})"


class DeclinedOffer(models.Model):
    """A customer was offered a number and chose another."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="declined_offers",
                               verbose_name=_("number"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="declined_offers",
                               verbose_name=_("outlet"))
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("served by"))
    was_secondary = models.BooleanField(_("secondary when offered"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    declined_at = models.DateTimeField(_("declined at"))

    class Meta:
        ordering = ["-declined_at"]
        verbose_name = _("declined offer")
        verbose_name_plural = _("declined offers")

    def __str__(self) -> str:
        return _("%(number)s declined at %(outlet)s") % {"number": self.number, "outlet": self.outlet}


class MarkCategory(models.TextChoices):
    FRAUD = "fraud", _("fraud")
    HARASSING_MARKETING = "harassing_marketing", _("harassing marketing")
    OTHER = "other", _("other")


class MarkEffect(models.TextChoices):
    EXTEND = "extend", _("extend the freeze")
    SUSPEND = "suspend", _("suspend")


class RiskMarkQuerySet(models.QuerySet["RiskMark"]):
    def in_force(self) -> RiskMarkQuerySet:
        return self.filter(lifted_at__isnull=True, ended_at__isnull=True)


class RiskMark(models.Model):
    """A regulator's mark on one number, for one recycling cycle."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="risk_marks",
                               verbose_name=_("number"))
    cycle = models.ForeignKey(
        HolderPeriod,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="risk_marks",
        verbose_name=_("recycling cycle"),
        help_text=_("Empty for a never-used number: the mark ends only when lifted."),
    )
    category = models.CharField(_("category"), max_length=24, choices=MarkCategory.choices)
    authority = models.CharField(_("issuing authority"), max_length=200)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    effect = models.CharField(_("effect"), max_length=10, choices=MarkEffect.choices)
    extra_days = models.PositiveIntegerField(_("extra freeze days"), null=True, blank=True)
    placed_at = models.DateTimeField(_("placed at"))
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+",
                                  verbose_name=_("placed by"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("lifted by"),
    )
    ended_at = models.DateTimeField(
        _("ended with its cycle at"), null=True, blank=True, help_text=_("Set when the number was re-allocated.")
    )

    objects = RiskMarkQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("risk mark")
        verbose_name_plural = _("risk marks")
        # Oversight: the regulator's dashboard and the CSV export of admin lists.
        permissions = [
            ("view_dashboard", _("Can view the oversight dashboard")),
            ("export_csv", _("Can export admin lists as CSV")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(effect=MarkEffect.EXTEND) & Q(extra_days__gte=1))
                | (Q(effect=MarkEffect.SUSPEND) & Q(extra_days__isnull=True)),
                name="mark_extra_days_iff_extend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.get_effect_display()} ({self.get_category_display()})"

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None and self.ended_at is None


class EventKind(models.TextChoices):
    IMPORT = "import", _("loaded from inventory")
    ALLOCATE = "allocate", _("allocated")
    CANCEL = "cancel", pgettext_lazy("number event", "cancelled")
    PORT_OUT = "port_out", _("ported out")
    PORT_IN = "port_in", _("ported in")
    RELEASE = "release", _("released")
    MARK_PLACED = "mark_placed", _("risk mark placed")
    MARK_LIFTED = "mark_lifted", _("risk mark lifted")
    DECLINE = "decline", _("offer declined")
    RETENTION = "retention", _("deleted after the retention period")


class AppendOnlyError(Exception):
    pass


class Event(models.Model):
    """One entry of the append-only log of everything that happened to a number."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="events", verbose_name=_("number"))
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    from_state = models.CharField(_("from"), max_length=10, blank=True, choices=State.choices)
    to_state = models.CharField(_("to"), max_length=10, blank=True, choices=State.choices)
    actor = models.CharField(_("actor"), max_length=150, help_text=_("User name, or the system part that acted."))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    at = models.DateTimeField(_("time"), db_index=True, help_text=_("When it took effect."))
    recorded_at = models.DateTimeField(_("recorded at"), help_text=_("When the portal wrote it."))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [models.Index(fields=["number", "at"], name="event_number_at")]

    def __str__(self) -> str:
        from numbers.timefmt import local_time

        return f"{local_time(self.at, 'second')} {self.number} {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Never:
        raise AppendOnlyError("Events are append-only.")


# === Feed uploads (numbers/feeds) ==============================================================================


def _feed_file_name(instance: FeedUpload, filename: str) -> str:
    # Never the uploader's name on disk: it could hold a path or a customer's data.
    return f"feeds/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.csv"


class FeedKind(models.TextChoices):
    CANCELLATIONS = "cancellations", _("cancellations and ports")
    INVENTORY = "inventory", _("number inventory")


class FeedStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class FeedUpload(models.Model):
    """A feed file an operator administrator uploaded; a background task imports it and keeps the report."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="feed_uploads",
                                 verbose_name=_("operator"))
    kind = models.CharField(_("feed"), max_length=16, choices=FeedKind.choices, default=FeedKind.CANCELLATIONS)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    original_name = models.CharField(_("file name"), max_length=200, blank=True)
    file = models.FileField(_("file"), upload_to=_feed_file_name, storage=private_storage, max_length=200)
    dry_run = models.BooleanField(_("dry run"), default=False, help_text=_("Validate and report; change nothing."))
    status = models.CharField(_("status"), max_length=10, choices=FeedStatus.choices, default=FeedStatus.QUEUED)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    processed = models.PositiveIntegerField(_("lines processed"), default=0)
    applied = models.PositiveIntegerField(_("applied"), default=0)
    already_applied = models.PositiveIntegerField(_("already applied"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    report = models.FileField(_("report"), storage=private_storage, max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("feed upload")
        verbose_name_plural = _("feed uploads")
        indexes = [models.Index(fields=["operator", "uploaded_at"], name="feedupload_operator_at")]

    def __str__(self) -> str:
        return f"{self.operator} {self.get_kind_display()} {self.original_name} ({self.get_status_display()})"


# === The audit trail: every admin action, sign-in and refused sign-in (numbers.audit writes it) =======



class AuditAction(models.TextChoices):
    """What was done. Codes are stable (filters and CSV exports use them); features add their own here."""

    SIGN_IN = "sign_in", _("signed in")
    SIGN_IN_REFUSED = "sign_in_refused", _("sign-in refused")
    TWO_FACTOR_ENROL = "two_factor_enrol", _("two-factor sign-in set up")
    RECOVERY_CODES = "recovery_codes", _("new recovery codes issued")
    TWO_FACTOR_RESET = "two_factor_reset", _("two-factor sign-in reset")
    CREATE = "create", _("created")
    CHANGE = "change", _("changed")
    DELETE = "delete", _("deleted")
    PASSWORD_SET = "password_set", _("password set")
    STATUS_CHANGE = "status_change", _("status changed")
    SECRET_ROTATE = "secret_rotate", _("signing secret rotated")
    KEY_CREATE = "key_create", _("API key created")
    KEY_REVOKE = "key_revoke", _("API key revoked")
    MARK_PLACE = "mark_place", _("risk mark placed")
    MARK_LIFT = "mark_lift", _("risk mark lifted")
    RISK_LIST = "risk_list", _("risk list placed")
    REPORT_HANDLE = "report_handle", _("harassment report handled")
    EVIDENCE_DOWNLOAD = "evidence_download", _("evidence file downloaded")
    DELIVERY_RETRY = "delivery_retry", _("dead deliveries retried")
    FEED_UPLOAD = "feed_upload", _("feed file uploaded")
    RETENTION_DELETE = "retention_delete", _("deleted after the retention period")
    EXPORT = "export", _("list exported")
    TEST_EVENT = "test_event", _("test event sent")
    CONFORMANCE_CHECK = "conformance_check", _("conformance check run")
    CANCELLATIONS_REPORT = "cancellations_report", _("cancellations reported")


class AuditEntry(models.Model):
    """One entry of the append-only audit trail: who (and in which role), when, what, before and after.

    Who is kept as the account's id and user name at the time (not a foreign key), so that the trail outlives
    an account and never blocks its deletion. Values of secrets and keys are never written here.
    """

    at = models.DateTimeField(_("time"), db_index=True)
    actor_id = models.BigIntegerField(_("account id"), null=True, blank=True)
    actor_name = models.CharField(
        _("person"), max_length=150, help_text=_("User name at the time, or the system part that acted."))
    role = models.CharField(_("role"), max_length=40, blank=True)
    action = models.CharField(_("action"), max_length=32)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    address = models.CharField(_("client address"), max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [
            models.Index(fields=["action", "at"], name="audit_action_at"),
            models.Index(fields=["actor_name", "at"], name="audit_actor_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Never:
        raise AppendOnlyError("The audit trail is append-only.")

# === Periodic tasks' heartbeats (readiness, /metrics) ==========================================================


class SweepRun(models.Model):
    """When beat last sent a periodic task, and when a worker last finished it (numbers.heartbeats)."""

    task = models.CharField(_("task"), max_length=200, primary_key=True)
    interval_seconds = models.FloatField(_("interval (seconds)"), default=0)
    sent_at = models.DateTimeField(_("last sent by beat"), null=True, blank=True)
    ran_at = models.DateTimeField(_("last finished by a worker"), null=True, blank=True)

    class Meta:
        verbose_name = _("periodic task heartbeat")
        verbose_name_plural = _("periodic task heartbeats")

    def __str__(self) -> str:
        return self.task


# === Oversight: risk lists and the dashboard's daily snapshots (numbers/oversight) ============================


def _risk_list_file_name(instance: RiskList, filename: str) -> str:
    return f"risk-lists/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.txt"


class RiskList(models.Model):
    """A list of numbers an authority marked, placed by a regulator; a background task applies it."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   related_name="+", verbose_name=_("placed by"))
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    original_name = models.CharField(_("file name"), max_length=200, blank=True,
                                     help_text=_("Empty for a pasted list."))
    file = models.FileField(_("file"), upload_to=_risk_list_file_name, storage=private_storage, max_length=200)
    category = models.CharField(_("category"), max_length=24, choices=MarkCategory.choices)
    authority = models.CharField(_("issuing authority"), max_length=200)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    effect = models.CharField(_("effect"), max_length=10, choices=MarkEffect.choices)
    extra_days = models.PositiveIntegerField(_("extra freeze days"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=FeedStatus.choices, default=FeedStatus.QUEUED)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    processed = models.PositiveIntegerField(_("lines processed"), default=0)
    applied = models.PositiveIntegerField(_("marks placed"), default=0)
    already_applied = models.PositiveIntegerField(_("already in force"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    report = models.FileField(_("report"), storage=private_storage, max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("risk list")
        verbose_name_plural = _("risk lists")
        constraints = [
            models.CheckConstraint(
                condition=(Q(effect=MarkEffect.EXTEND) & Q(extra_days__gte=1))
                | (Q(effect=MarkEffect.SUSPEND) & Q(extra_days__isnull=True)),
                name="risklist_extra_days_iff_extend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} · {self.authority} · {self.created_at:%Y-%m-%d %H:%M}"


class DailySnapshot(models.Model):
    """One stock figure (numbers by state, renewal completion, …) of one operator at the end of one local day.

    Written shortly after midnight by a beat task, back-filled from the events by `manage.py snapshots_backfill`;
    the dashboard draws the trends of stock figures from these rows, never from a scan of the number table.
    """

    day = models.DateField(_("day"))
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("figure"), max_length=40)
    value = models.BigIntegerField(_("value"))

    class Meta:
        ordering = ["day", "operator", "key"]
        verbose_name = _("daily snapshot")
        verbose_name_plural = _("daily snapshots")
        constraints = [models.UniqueConstraint(fields=["day", "operator", "key"], name="snapshot_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.operator_id} {self.key}={self.value}"
