"""Active renewal (DESIGN.md "Active renewal"): SMS sign-in codes, the test SMS outbox, harassment reports.

The unbind request and its per-platform tasks live here too once the platforms
of the batch-renewal issue exist (see renewal/unbind.py).
"""

import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["SmsCode", "SmsMessage", "HarassmentCategory", "ReportStatus", "HarassmentReport", "Evidence",
           "UnbindRequest", "UnbindTask", "UnbindResult"]


class SmsCode(models.Model):
    """The one live sign-in code of a number, stored as an HMAC (never in clear)."""

    msisdn = models.CharField(_("number (E.164)"), max_length=16, unique=True)
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")

    def __str__(self) -> str:
        return f"code for {self.msisdn}"


class SmsMessage(models.Model):
    """The database SMS outbox (settings.SMS_BACKEND = renewal.sms.DatabaseBackend): what a worker sent."""

    to = models.CharField(max_length=16, db_index=True)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("SMS message (test outbox)")
        verbose_name_plural = _("SMS messages (test outbox)")

    def __str__(self) -> str:
        return f"SMS to {self.to}"


class HarassmentCategory(models.TextChoices):
    DEBT_COLLECTION = "debt_collection", _("debt collection")
    MARKETING = "marketing", _("marketing")
    FRAUD = "fraud", _("fraud")
    OTHER = "other", _("other")


class ReportStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_REVIEW = "in_review", _("in review")
    CLOSED = "closed", _("closed")


def _report_reference() -> str:
    return "HR-" + secrets.token_hex(5).upper()


class HarassmentReport(models.Model):
    """A subscriber's report of harassment caused by the number's past; read by regulators."""

    reference = models.CharField(_("reference"), max_length=16, unique=True, default=_report_reference)
    number = models.ForeignKey("numbers.PhoneNumber", on_delete=models.PROTECT, related_name="harassment_reports")
    holder_period = models.ForeignKey(
        "numbers.HolderPeriod", on_delete=models.PROTECT, related_name="harassment_reports"
    )
    category = models.CharField(_("category"), max_length=20, choices=HarassmentCategory.choices)
    sender = models.CharField(_("sender number or name"), max_length=100)
    occurred_at = models.DateTimeField(_("when it happened"))
    description = models.TextField(_("what happened"), max_length=4000)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now)
    # Set by the regulator in admin (the only fields anyone may change); each change names who and when.
    status = models.CharField(_("status"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.NEW)
    notes = models.TextField(_("regulator's notes"), blank=True)
    handled_by = models.CharField(_("last handled by"), max_length=150, blank=True, editable=False)
    handled_at = models.DateTimeField(_("last handled at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("harassment report")
        verbose_name_plural = _("harassment reports")
        constraints = [
            models.CheckConstraint(condition=Q(category__in=HarassmentCategory.values), name="report_category_valid"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
        ]

    def __str__(self) -> str:
        return self.reference


class Evidence(models.Model):
    """One evidence file of a report, stored under settings.PRIVATE_FILES_ROOT (never the web root)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey(HarassmentReport, on_delete=models.CASCADE, related_name="evidence")
    path = models.CharField(max_length=200, help_text=_("Relative to PRIVATE_FILES_ROOT."))
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self) -> str:
        return self.original_name


class UnbindRequestQuerySet(models.QuerySet):
    def running(self):
        return self.filter(finished_at__isnull=True)


class UnbindRequest(models.Model):
    """A subscriber's request to remove the bindings made before their holding began, on chosen platforms."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.ForeignKey("numbers.PhoneNumber", on_delete=models.PROTECT, related_name="unbind_requests")
    holder_period = models.ForeignKey("numbers.HolderPeriod", on_delete=models.PROTECT,
                                      related_name="unbind_requests")
    bound_before = models.DateTimeField(_("bindings made before"))
    created_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True,
                                       help_text=_("When every platform's task reached a final state."))

    objects = UnbindRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("unbind request")
        verbose_name_plural = _("unbind requests")
        constraints = [
            # One running request per holding; the service says so clearly, the database makes sure.
            models.UniqueConstraint(fields=["holder_period"], condition=Q(finished_at__isnull=True),
                                    name="one_running_unbind_request_per_period"),
        ]

    def __str__(self) -> str:
        return f"unbind {self.number_id} {self.created_at:%Y-%m-%d %H:%M}"


class UnbindResult(models.TextChoices):
    PENDING = "", _("no result yet")
    UNBOUND = "unbound", _("unbound")
    NOTHING_BOUND = "nothing_bound", _("nothing bound")
    REJECTED = "rejected", _("rejected")
    NO_ANSWER = "no_answer", _("no answer")


# What a platform may report (no_answer is the portal's own verdict at the deadline).
REPORTABLE_RESULTS = (UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, UnbindResult.REJECTED)


class UnbindTask(models.Model):
    """One platform's part of an unbind request: the outbox row that the coalescer puts into a delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(UnbindRequest, on_delete=models.CASCADE, related_name="tasks")
    platform = models.ForeignKey("renewal.Platform", on_delete=models.PROTECT, related_name="unbind_tasks")
    delivery = models.ForeignKey("renewal.Delivery", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="unbind_tasks")
    created_at = models.DateTimeField(_("created at"))
    deadline_at = models.DateTimeField(_("answer deadline"))
    result = models.CharField(_("result"), max_length=16, choices=UnbindResult.choices, blank=True, default="")
    accounts = models.PositiveIntegerField(_("accounts unbound"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("unbind task")
        verbose_name_plural = _("unbind tasks")
        constraints = [
            models.UniqueConstraint(fields=["request", "platform"], name="one_unbind_task_per_platform"),
            models.CheckConstraint(condition=Q(result__in=UnbindResult.values), name="unbind_result_valid"),
        ]
        indexes = [
            # The coalescer's claim: unassigned tasks of one platform.
            models.Index(fields=["platform", "created_at"], condition=Q(delivery__isnull=True),
                         name="unbind_task_unassigned"),
            # Has a delivery (or a request) an open task? One probe of these partial indexes.
            models.Index(fields=["delivery"], condition=Q(result__in=["", "no_answer"]),
                         name="unbind_task_open_delivery"),
            models.Index(fields=["request"], condition=Q(result=""), name="unbind_task_open_request"),
            # The no-answer sweep: open tasks by deadline.
            models.Index(fields=["deadline_at"], condition=Q(result=""), name="unbind_task_open_deadline"),
        ]

    def __str__(self) -> str:
        return f"unbind task {self.id}"
