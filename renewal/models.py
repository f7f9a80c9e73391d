"""Platforms and their keys, recycle batches, deliveries (the one outbox), and active renewal's records.

One models module for the app: the tables, the app label and the migrations stay as they are, and every
feature of the app reads these models (they are the shared public surface). Sections, bottom up:
platforms and keys; batches, chunks and deliveries; SMS codes, harassment reports and unbind requests.

A recycle batch holds the numbers of one range holder pushed together; its
chunks (up to 1,000 numbers) are what one delivery carries. A chunk's entries
are stored once and shared by every platform's delivery of it. Every message
to a platform is a `Delivery` row; the row owns its retries.
"""

import secrets
import uuid
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from numbers.models import HolderPeriod, Operator, PhoneNumber


class PlatformCategory(models.TextChoices):
    PAYMENT = "payment", _("payment")
    BANKING = "banking", _("banking and finance")
    SOCIAL = "social", _("social network")
    MESSAGING = "messaging", _("messaging")
    ECOMMERCE = "e-commerce", _("e-commerce")
    GOVERNMENT = "government", _("government service")
    TRAVEL = "travel", _("travel and transport")
    FOOD_DELIVERY = "food_delivery", _("food delivery and local services")
    VIDEO = "video", _("video and music")
    GAMING = "gaming", _("gaming")
    NEWS = "news", _("news and reading")
    HEALTH = "health", _("health")
    EDUCATION = "education", _("education")
    UTILITIES = "utilities", _("utilities and telecom")
    NUMBER_TAGS = "number_tags", _("caller ID and number tags")
    OTHER = "other", _("other")


class PlatformKind(models.TextChoices):
    APPLICATION = "application", _("Internet application")
    TAG_PROVIDER = "tag_provider", _("number-tag provider")
    # A site that only asks reassignment queries: no webhook URL, no deliveries, in no batch's platform set.
    QUERY_ONLY = "query_only", _("query-only site")


class PlatformStatus(models.TextChoices):
    SANDBOX = "sandbox", _("sandbox")
    LIVE = "live", _("live")
    SUSPENDED = "suspended", pgettext_lazy("platform status", "suspended")


DEFAULT_MAX_IN_FLIGHT = 8
MAX_IN_FLIGHT = 1000


class PlatformQuerySet(models.QuerySet["Platform"]):
    def live(self) -> "PlatformQuerySet":
        return self.filter(status=PlatformStatus.LIVE)

    def receiving(self) -> "PlatformQuerySet":
        """Live platforms that receive deliveries (batches and unbind requests): every kind but query-only."""
        return self.live().exclude(kind=PlatformKind.QUERY_ONLY)


class Platform(models.Model):
    """An Internet application or number-tag provider that receives recycled numbers and unbind requests."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=20, choices=PlatformCategory.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=PlatformKind.choices, default=PlatformKind.APPLICATION)
    webhook_url = models.CharField(
        _("webhook URL"), max_length=500, blank=True,
        help_text=_("HTTPS address that receives signed deliveries. Blank: pull-only (reads GET /api/v1/deliveries)."),
    )
    status = models.CharField(_("status"), max_length=10, choices=PlatformStatus.choices,
                              default=PlatformStatus.SANDBOX)
    # Held across every worker process and machine: the pump's claim takes at most this many minus those
    # already leased and not yet recorded (renewal.deliveries.pump).
    max_in_flight = models.PositiveSmallIntegerField(
        _("deliveries in flight at most"), default=DEFAULT_MAX_IN_FLIGHT,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT)],
        help_text=_("How many webhook POSTs the portal keeps open to this platform at once, over all workers."),
    )
    # Shown to a subscriber beside this platform's rejection of an unbind task.
    support_phone = models.CharField(
        _("support phone"), max_length=32, blank=True,
        validators=[RegexValidator(r"^\+?[0-9][0-9 ()-]{2,30}$", _("Digits, spaces, brackets and dashes only."))])
    support_url = models.URLField(_("support page"), max_length=300, blank=True,
                                  validators=[URLValidator(schemes=["https", "http"])])
    # Fernet tokens (renewal.platforms.crypto); never the plain secret.
    signing_secret_encrypted = models.TextField(_("signing secret (encrypted)"), editable=False)
    previous_secret_encrypted = models.TextField(_("previous signing secret (encrypted)"), blank=True,
                                                 editable=False)
    previous_secret_expires_at = models.DateTimeField(_("previous secret valid until"), null=True, blank=True,
                                                      editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Set by a periodic check while a live platform's deliveries keep dying (no 2xx since then, for a day or
    # more): administrators see it flagged in the platform list. Cleared once a POST succeeds again.
    dying_since = models.DateTimeField(_("deliveries dying since"), null=True, blank=True, editable=False)

    objects = PlatformQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")
        permissions = [("rotate_secret", _("Can rotate a platform's signing secret"))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PlatformStatus.values), name="platform_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=PlatformKind.values), name="platform_kind_valid"),
            models.CheckConstraint(condition=~Q(kind=PlatformKind.QUERY_ONLY) | Q(webhook_url=""),
                                   name="platform_query_only_no_webhook"),
            models.CheckConstraint(condition=Q(max_in_flight__gte=1, max_in_flight__lte=MAX_IN_FLIGHT),
                                   name="platform_max_in_flight_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pull_only(self) -> bool:
        return not self.webhook_url

    @property
    def is_query_only(self) -> bool:
        return self.kind == PlatformKind.QUERY_ONLY

    def clean(self) -> None:
        if self.is_query_only and self.webhook_url:
            raise ValidationError({"webhook_url": _("A query-only site receives no deliveries: leave the webhook "
                                                    "URL empty.")}, code="query_only_webhook")


class ApiKey(models.Model):
    """A bearer key of one platform or one operator. Only its lookup prefix and SHA-256 are stored."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys",
                                 verbose_name=_("platform"))
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys",
                                 verbose_name=_("operator"))
    name = models.CharField(_("name"), max_length=100, help_text=_("What the key is for, e.g. 'production'."))
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(_("SHA-256"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            # A key belongs to exactly one platform or one operator: its scope.
            models.CheckConstraint(
                condition=Q(platform__isnull=False, operator__isnull=True)
                | Q(platform__isnull=True, operator__isnull=False),
                name="apikey_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.owner})"

    @property
    def owner(self):
        return self.platform or self.operator

    @property
    def scope(self) -> str:
        return "platform" if self.platform_id else "operator"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ReassignmentQueryCall(models.Model):
    """One call of POST /api/v1/reassignment-queries: who asked, when, how many, the answers' counts.

    Never the numbers asked, in clear or hashed (DESIGN.md, "Privacy").
    """

    key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("API key"))
    key_prefix = models.CharField(_("key prefix"), max_length=16)
    platform = models.ForeignKey(Platform, on_delete=models.SET_NULL, null=True, related_name="query_calls",
                                 verbose_name=_("platform"))
    at = models.DateTimeField(_("time"))
    items = models.PositiveIntegerField(_("items"))
    yes = models.PositiveIntegerField(pgettext_lazy("reassignment answer", "yes"))
    no = models.PositiveIntegerField(pgettext_lazy("reassignment answer", "no"))
    no_data = models.PositiveIntegerField(_("no data"))
    errors = models.PositiveIntegerField(_("items refused"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("reassignment query call")
        verbose_name_plural = _("reassignment query calls")
        indexes = [models.Index(fields=["at", "platform"], name="querycall_at_platform")]

    def __str__(self) -> str:
        return f"{self.key_prefix} {self.at:%Y-%m-%d %H:%M} ({self.items})"


class RecycleBatch(models.Model):
    """Numbers of one range holder pushed together to every live platform."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="recycle_batches",
                                 verbose_name=_("range holder"))
    created_at = models.DateTimeField(_("created at"))
    size = models.PositiveIntegerField(_("numbers"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("recycle batch")
        verbose_name_plural = _("recycle batches")

    def __str__(self) -> str:
        return _("%(operator)s batch %(id)s (%(size)s numbers)") % {"operator": self.operator.code, "id": self.pk,
                                                                      "size": self.size}


class BatchChunk(models.Model):
    """Up to RENEWAL_CHUNK_SIZE numbers of a batch: the unit one delivery carries."""

    batch = models.ForeignKey(RecycleBatch, on_delete=models.CASCADE, related_name="chunks",
                              verbose_name=_("recycle batch"))
    seq = models.PositiveIntegerField(_("sequence"))
    size = models.PositiveIntegerField(_("numbers"), default=0)
    # Confirmation counts, kept as deliveries reach a final state (renewal complete = done == total).
    deliveries_total = models.PositiveIntegerField(_("deliveries"), default=0)
    deliveries_done = models.PositiveIntegerField(_("deliveries confirmed or cancelled"), default=0)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = _("batch chunk")
        verbose_name_plural = _("batch chunks")
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="chunk_seq_unique"),
            models.CheckConstraint(condition=Q(deliveries_done__lte=models.F("deliveries_total")),
                                   name="chunk_done_le_total"),
        ]
        indexes = [
            # /metrics: batches whose renewal is not complete, without reading every chunk ever made.
            models.Index(fields=["batch"], condition=Q(deliveries_done__lt=models.F("deliveries_total")),
                         name="chunk_incomplete"),
        ]

    def __str__(self) -> str:
        return _("batch %(batch)s, chunk %(seq)s") % {"batch": self.batch_id, "seq": self.seq}

    @property
    def is_complete(self) -> bool:
        return self.deliveries_done >= self.deliveries_total


class BatchEntry(models.Model):
    """One number of one recycling cycle in a chunk; a number recycled again gets a new entry."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="batch_entries",
                               verbose_name=_("number"))
    cycle = models.OneToOneField(HolderPeriod, on_delete=models.PROTECT, related_name="batch_entry",
                                 verbose_name=_("recycling cycle"),
                                 help_text=_("The holder period whose end began the recycling cycle."))
    chunk = models.ForeignKey(BatchChunk, on_delete=models.CASCADE, related_name="entries",
                              verbose_name=_("batch chunk"))
    # What the platforms are told, fixed when the batch is made so that every attempt sends the same body.
    disconnected_at = models.DateTimeField(_("disconnected at"))
    release_not_before = models.DateTimeField(_("release not before"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("batch entry")
        verbose_name_plural = _("batch entries")
        indexes = [models.Index(fields=["number", "cycle"], name="entry_number_cycle")]

    def __str__(self) -> str:
        return _("%(number)s in chunk %(chunk)s") % {"number": self.number_id, "chunk": self.chunk_id}


class DeliveryEvent(models.TextChoices):
    BATCH = "recycled_numbers.batch", _("batch of recycled numbers")
    UNBIND = "unbind.request", _("unbind request")
    PING = "ping", _("test event (ping)")


class DeliveryPriority(models.IntegerChoices):
    # A person waits for an unbind request; a batch can wait its turn.
    INTERACTIVE = 0, _("a person is waiting")
    BULK = 1, _("bulk")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    CONFIRMED = "confirmed", _("confirmed")
    DEAD = "dead", _("dead")
    CANCELLED = "cancelled", _("cancelled")


FINAL_STATES = (DeliveryState.CONFIRMED, DeliveryState.CANCELLED)
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.DEAD)
# The largest count a platform may report through the API (numbers confirmed, accounts unbound): no chunk or
# holder comes near it, and it fits every integer column (2**31 - 1 on PostgreSQL) with room to spare.
MAX_REPORTED_COUNT = 1_000_000


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self, now: datetime) -> "DeliveryQuerySet":
        """Return pending deliveries whose next attempt is due."""
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)

    def open(self) -> "DeliveryQuerySet":
        """Return deliveries not yet confirmed or cancelled."""
        return self.exclude(state__in=FINAL_STATES)

    def real(self) -> "DeliveryQuerySet":
        """Return deliveries that carry real numbers (not pings or sandbox traffic): what figures count."""
        return self.filter(test=False)

    def cancel(self) -> int:
        """Cancel these (unsent) deliveries and count them done on their chunks, set-based; return how many."""
        ids = list(self.values_list("id", flat=True))
        if not ids:
            return 0
        deliveries = Delivery.objects.filter(pk__in=ids)
        per_chunk = (deliveries.filter(chunk_id=models.OuterRef("pk")).order_by()
                     .values("chunk_id").annotate(n=models.Count("id")).values("n"))
        BatchChunk.objects.filter(pk__in=deliveries.values("chunk_id")).update(
            deliveries_done=models.F("deliveries_done") + models.Subquery(per_chunk))
        return deliveries.update(state=DeliveryState.CANCELLED, claimed_until=None, next_attempt_at=None)


class Delivery(models.Model):
    """One message to one platform; its id is the `webhook-id` header, the same on every retry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(_("event"), max_length=32, choices=DeliveryEvent.choices)
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="deliveries",
                                 verbose_name=_("platform"))
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries",
        verbose_name=_("operator"),
        help_text=_("The operator whose numbers the delivery carries (its administrators may retry it)."),
    )
    chunk = models.ForeignKey(BatchChunk, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="deliveries", verbose_name=_("batch chunk"),
                              help_text=_("For batches of recycled numbers."))
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING)
    # The pump claims a platform's due deliveries in this order first: unbind requests before batches.
    priority = models.PositiveSmallIntegerField(_("priority"), choices=DeliveryPriority.choices,
                                                default=DeliveryPriority.BULK)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # Set while an attempt is in flight (leased by a pump and not yet recorded): it counts against the platform's
    # max_in_flight until then, and nobody else sends it; past it, a killed worker's delivery is due again.
    claimed_until = models.DateTimeField(_("attempt in flight until"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_unbound = models.PositiveIntegerField(_("unbound"), null=True, blank=True)
    confirmed_not_found = models.PositiveIntegerField(_("not found"), null=True, blank=True)
    # Test traffic: a ping, or a sandbox batch or unbind request built from SANDBOX_NUMBER_PREFIX numbers. It has
    # no number, holder-period, batch or task rows: its body is stored here, the results a platform reports for
    # it too, and every API call about it (accepted or refused) is logged as the conformance check's evidence.
    # Database defaults too: the batch sweep and the benchmarks write real deliveries with INSERT … SELECT.
    test = models.BooleanField(_("test event"), default=False, db_default=False, editable=False)
    body = models.TextField(_("body (test events)"), blank=True, default="", db_default="", editable=False)
    test_results = models.JSONField(_("results reported (test events)"), null=True, blank=True, editable=False)
    test_log = models.JSONField(_("API calls about it (test events)"), null=True, blank=True, editable=False)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        permissions = [("retry_delivery", _("Can retry a dead delivery"))]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_due"),
            models.Index(fields=["platform", "created_at", "id"], name="delivery_platform_page"),
            models.Index(fields=["chunk", "state"], name="delivery_chunk_state"),
            # /metrics: open deliveries by platform and state, and the oldest pending one, without touching the
            # (ever-growing) confirmed history.
            models.Index(fields=["platform", "state"], condition=Q(state__in=OPEN_STATES),
                         name="delivery_open_platform_state"),
            models.Index(fields=["created_at"], condition=Q(state=DeliveryState.PENDING), name="delivery_pending_age"),
            # The pump's claim: a platform's due deliveries in claim order, and its deliveries in flight.
            models.Index(fields=["platform", "priority", "next_attempt_at", "chunk", "id"],
                         condition=Q(state="pending"), name="delivery_platform_due"),
            models.Index(fields=["platform", "claimed_until"],
                         condition=Q(state="pending", claimed_until__isnull=False), name="delivery_in_flight"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=DeliveryState.values), name="delivery_state_valid"),
            # One delivery per (platform, chunk); unbind deliveries have no chunk.
            models.UniqueConstraint(fields=["chunk", "platform"], name="delivery_chunk_platform_unique"),
            # A real batch delivery carries a chunk; nothing else does (test events store their body instead).
            models.CheckConstraint(
                condition=(Q(event=DeliveryEvent.BATCH, test=False) & Q(chunk__isnull=False))
                | ((Q(event=DeliveryEvent.UNBIND) | Q(test=True)) & Q(chunk__isnull=True)),
                name="delivery_chunk_iff_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} {self.id} → {self.platform}"


# Only this many bytes of an error are kept on an attempt (UTF-8, cut at a character boundary).
ATTEMPT_ERROR_BYTES = 500


class DeliveryAttempt(models.Model):
    """One POST of a delivery: when it started, what the platform answered and how long it took.

    Written in the same statement that records the attempt's outcome on the delivery; attempts of confirmed
    deliveries are pruned after RENEWAL_ATTEMPT_RETENTION_DAYS.
    """

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="delivery_attempts")
    started_at = models.DateTimeField(_("started at"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True,
                                                   help_text=_("Empty when no answer came (timeout, refused)."))
    latency_ms = models.PositiveIntegerField(_("latency (ms)"))
    error = models.CharField(_("error"), max_length=ATTEMPT_ERROR_BYTES, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        indexes = [
            models.Index(fields=["delivery", "started_at"], name="attempt_delivery"),
            models.Index(fields=["platform", "started_at"], name="attempt_platform"),
        ]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class ConformanceState(models.TextChoices):
    RUNNING = "running", _("running")
    PASSED = "passed", _("passed")
    FAILED = "failed", _("failed")


class ConformanceVariant(models.TextChoices):
    PUSH = "push", _("push (webhook)")
    PULL = "pull", _("pull (API only)")


class ConformanceSource(models.TextChoices):
    RUN = "run", _("run")
    RECORDED = "recorded", _("recorded by the demo (not run)")


class ConformanceCheck(models.Model):
    """One run of the conformance check against a platform, with each step's evidence (renewal.conformance).

    `steps` is a list of {"step": 1-4, "name", "title", "passed": bool | None (not applicable), "expected",
    "evidence": [{"what", "status_code", "latency_ms", "error"}…], "failure"}; a platform may go live only when
    its last finished check passed every step that applies.
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="conformance_checks",
                                 verbose_name=_("platform"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    state = models.CharField(_("result"), max_length=10, choices=ConformanceState.choices,
                             default=ConformanceState.RUNNING)
    variant = models.CharField(_("variant"), max_length=10, choices=ConformanceVariant.choices)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    # The address the check ran against: a pass counts only while the platform keeps it.
    webhook_url = models.CharField(_("webhook URL"), max_length=500, blank=True)
    # "run": the check was run; "recorded": the demo loader recorded a pass against the simulator without running.
    source = models.CharField(_("source"), max_length=10, choices=ConformanceSource.choices,
                              default=ConformanceSource.RUN)
    steps = models.JSONField(_("steps"), default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("conformance check")
        verbose_name_plural = _("conformance checks")
        indexes = [models.Index(fields=["platform", "-started_at"], name="conformance_platform_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ConformanceState.values), name="conformance_state_valid"),
        ]

    def __str__(self) -> str:
        return _("conformance check of %(platform)s, %(state)s") % {"platform": self.platform_id,
                                                                     "state": self.get_state_display()}

    @property
    def first_failed_step(self) -> dict | None:
        return next((s for s in self.steps if s.get("passed") is False), None)


# --- active renewal: sign-in codes, the test SMS outbox, harassment reports, unbind requests ---


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
        return _("code for %(msisdn)s") % {"msisdn": self.msisdn}


class SmsMessage(models.Model):
    """The database SMS outbox (settings.SMS_BACKEND = renewal.active.sms.DatabaseBackend): what a worker sent."""

    to = models.CharField(max_length=16, db_index=True)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("SMS message (test outbox)")
        verbose_name_plural = _("SMS messages (test outbox)")

    def __str__(self) -> str:
        return _("SMS to %(to)s") % {"to": self.to}


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
    number = models.ForeignKey("numbers.PhoneNumber", on_delete=models.PROTECT, related_name="harassment_reports",
                               verbose_name=_("number"))
    holder_period = models.ForeignKey(
        "numbers.HolderPeriod", on_delete=models.PROTECT, related_name="harassment_reports",
        verbose_name=_("holder period"),
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
    # Reports and their evidence are deleted after REPORT_RETENTION_DAYS unless a regulator holds them.
    retention_hold = models.BooleanField(
        _("held by the regulator"), default=False,
        help_text=_("Keep this report and its evidence past the retention period (for example, while a case "
                    "is open). Unticked, the evidence is deleted once the report is older than the retention "
                    "period, and a closed report once it was last handled longer ago than that."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("harassment report")
        verbose_name_plural = _("harassment reports")
        constraints = [
            models.CheckConstraint(condition=Q(category__in=HarassmentCategory.values), name="report_category_valid"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
        ]
        indexes = [
            # The retention sweep: reports not held, oldest first.
            models.Index(fields=["created_at"], condition=Q(retention_hold=False), name="report_retention_created"),
        ]

    def __str__(self) -> str:
        return self.reference


class Evidence(models.Model):
    """One evidence file of a report, stored under settings.PRIVATE_FILES_ROOT (never the web root)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey(HarassmentReport, on_delete=models.CASCADE, related_name="evidence",
                               verbose_name=_("harassment report"))
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


class ReportAuthority(models.Model):
    """Who handles a kind of harassment: shown to a subscriber after filing a report; regulators keep the table."""

    category = models.CharField(_("kind of harassment"), max_length=20, choices=HarassmentCategory.choices)
    name = models.CharField(_("authority"), max_length=200)
    phone = models.CharField(_("hotline"), max_length=40, blank=True)
    handles = models.CharField(_("what it handles"), max_length=300, blank=True)
    url = models.URLField(_("web address"), blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["category", "position", "id"]
        verbose_name = _("report authority")
        verbose_name_plural = _("report authorities")
        constraints = [
            models.CheckConstraint(condition=Q(category__in=HarassmentCategory.values),
                                   name="report_authority_category_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()


# Short references for links in SMS: no 0/O, 1/I/L to misread.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def request_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


class UnbindRequestQuerySet(models.QuerySet["UnbindRequest"]):
    def running(self) -> "UnbindRequestQuerySet":
        return self.filter(finished_at__isnull=True)


class UnbindRequest(models.Model):
    """A subscriber's request to remove the bindings made before their holding began, on chosen platforms."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.ForeignKey("numbers.PhoneNumber", on_delete=models.PROTECT, related_name="unbind_requests",
                               verbose_name=_("number"))
    holder_period = models.ForeignKey("numbers.HolderPeriod", on_delete=models.PROTECT,
                                      related_name="unbind_requests", verbose_name=_("holder period"))
    bound_before = models.DateTimeField(_("bindings made before"))
    created_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True,
                                       help_text=_("When every platform's task reached a final state."))
    # For the short link in the summary SMS (PUBLIC_BASE_URL/r/<reference>).
    reference = models.CharField(_("reference"), max_length=12, unique=True, default=request_reference)
    summary_sent_at = models.DateTimeField(_("summary SMS sent at"), null=True, blank=True)

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
        from numbers.timefmt import local_time

        return _("unbind %(number)s, %(at)s") % {"number": self.number, "at": local_time(self.created_at)}


class UnbindResult(models.TextChoices):
    PENDING = "", _("no result yet")
    UNBOUND = "unbound", _("unbound")
    NOTHING_BOUND = "nothing_bound", _("nothing bound")
    REJECTED = "rejected", _("rejected")
    NO_ANSWER = "no_answer", _("no answer")


# What a platform may report (no_answer is the portal's own verdict at the deadline).
REPORTABLE_RESULTS = (UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, UnbindResult.REJECTED)


class UnbindReason(models.TextChoices):
    """Why a platform rejected an unbind task: a fixed vocabulary the subscriber can act on."""

    ENTERPRISE_ACCOUNT = "enterprise_account", _("enterprise account")
    LEGAL_HOLD = "legal_hold", _("frozen by a court or the police")
    IDENTITY_CHECK_REQUIRED = "identity_check_required", _("identity check required")
    ASSETS_OR_BALANCE = "assets_or_balance", _("assets or a balance in the account")
    ACTIVE_CONTRACT = "active_contract", _("a contract still running")
    OTHER = "other", _("another reason")


class UnbindTask(models.Model):
    """One platform's part of an unbind request: the outbox row that the coalescer puts into a delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(UnbindRequest, on_delete=models.CASCADE, related_name="tasks",
                                verbose_name=_("unbind request"))
    platform = models.ForeignKey("renewal.Platform", on_delete=models.PROTECT, related_name="unbind_tasks",
                                 verbose_name=_("platform"))
    delivery = models.ForeignKey("renewal.Delivery", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="unbind_tasks", verbose_name=_("delivery"))
    created_at = models.DateTimeField(_("created at"))
    deadline_at = models.DateTimeField(_("answer deadline"))
    result = models.CharField(_("result"), max_length=16, choices=UnbindResult.choices, blank=True, default="")
    accounts = models.PositiveIntegerField(_("accounts unbound"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=UnbindReason.choices, blank=True,
                              help_text=_("Why the platform rejected the task (rejected only)."))
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("unbind task")
        verbose_name_plural = _("unbind tasks")
        constraints = [
            models.UniqueConstraint(fields=["request", "platform"], name="one_unbind_task_per_platform"),
            models.CheckConstraint(condition=Q(result__in=UnbindResult.values), name="unbind_result_valid"),
            # A rejection carries a reason from the vocabulary; nothing else carries one.
            models.CheckConstraint(
                condition=Q(result=UnbindResult.REJECTED, reason__in=UnbindReason.values)
                | (~Q(result=UnbindResult.REJECTED) & Q(reason="")),
                name="unbind_reason_iff_rejected",
            ),
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
        return _("unbind task %(id)s") % {"id": self.id}


# --- onboarding: registration requests, platform engineers' accounts, delivery alerts ---


class RegistrationState(models.TextChoices):
    PENDING = "pending", _("waiting for approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class PlatformRegistration(models.Model):
    """An application's request to join, typed by its engineers on the public page; decided in admin."""

    organisation = models.CharField(_("organisation"), max_length=200)
    platform_name = models.CharField(_("application name"), max_length=100)
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_email = models.EmailField(_("contact e-mail"), max_length=254)
    contact_phone = models.CharField(_("contact phone"), max_length=32)
    # The first is the platform's category; the others say what else the application does.
    categories = models.JSONField(_("categories"), default=list)
    # One of PlatformKind (checked by the form), kept without choices so that new kinds need no migration here.
    kind = models.CharField(_("kind"), max_length=16)
    webhook_url = models.CharField(_("webhook URL"), max_length=500, blank=True,
                                   help_text=_("Blank: pull-only (reads GET /api/v1/deliveries)."))
    support_phone = models.CharField(_("support phone"), max_length=32, blank=True)
    support_url = models.URLField(_("support page"), max_length=300, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=RegistrationState.choices,
                             default=RegistrationState.PENDING)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    address = models.CharField(_("sent from address"), max_length=64, blank=True, editable=False)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True, editable=False)
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="registrations", verbose_name=_("platform"), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("platform registration")
        verbose_name_plural = _("platform registrations")
        constraints = [
            models.CheckConstraint(condition=Q(state__in=RegistrationState.values),
                                   name="registration_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.platform_name} ({self.organisation})"


class PlatformAccount(models.Model):
    """A platform engineer's account: one user, one platform; the owner invites the others."""

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="platform_account",
                                verbose_name=_("user"))
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="accounts",
                                 verbose_name=_("platform"))
    is_owner = models.BooleanField(_("owner"), default=False, help_text=_("May invite other engineers."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    invited_by = models.CharField(_("invited by"), max_length=150, blank=True)

    class Meta:
        ordering = ["platform", "-is_owner", "created_at"]
        verbose_name = _("platform account")
        verbose_name_plural = _("platform accounts")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.platform})"


class PlatformAlert(models.Model):
    """Where a platform wants to hear that its deliveries have started dying (e-mail, SMS or both)."""

    platform = models.OneToOneField(Platform, on_delete=models.CASCADE, related_name="alert",
                                    verbose_name=_("platform"))
    email = models.EmailField(_("alert e-mail"), blank=True)
    phone = models.CharField(_("alert SMS number"), max_length=16, blank=True)
    # The dead deliveries already told about: an alert goes when there are more than this.
    dead_alerted = models.PositiveIntegerField(default=0, editable=False)
    last_alert_at = models.DateTimeField(_("last alert"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("delivery alert")
        verbose_name_plural = _("delivery alerts")

    def __str__(self) -> str:
        return _("alerts of %(platform)s") % {"platform": self.platform}
