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

__all__ = ["SmsCode", "SmsMessage", "HarassmentCategory", "HarassmentReport", "Evidence"]


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

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("harassment report")
        verbose_name_plural = _("harassment reports")
        constraints = [
            models.CheckConstraint(condition=Q(category__in=HarassmentCategory.values), name="report_category_valid"),
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
