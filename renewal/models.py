"""Platforms and their keys, recycle batches, and deliveries: the one outbox (DESIGN.md).

A recycle batch holds the numbers of one range holder pushed together; its
chunks (up to 1,000 numbers) are what one delivery carries. A chunk's entries
are stored once and shared by every platform's delivery of it. Every message
to a platform is a `Delivery` row; the row owns its retries.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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


class PlatformStatus(models.TextChoices):
    SANDBOX = "sandbox", _("sandbox")
    LIVE = "live", _("live")
    SUSPENDED = "suspended", _("suspended")


class PlatformQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status=PlatformStatus.LIVE)


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
    # Fernet tokens (renewal.crypto); never the plain secret.
    signing_secret_encrypted = models.TextField(_("signing secret (encrypted)"), editable=False)
    previous_secret_encrypted = models.TextField(_("previous signing secret (encrypted)"), blank=True,
                                                 editable=False)
    previous_secret_expires_at = models.DateTimeField(_("previous secret valid until"), null=True, blank=True,
                                                      editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PlatformQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")
        permissions = [("rotate_secret", _("Can rotate a platform's signing secret"))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PlatformStatus.values), name="platform_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=PlatformKind.values), name="platform_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pull_only(self) -> bool:
        return not self.webhook_url


class ApiKey(models.Model):
    """A bearer key of one platform or one operator. Only its lookup prefix and SHA-256 are stored."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys")
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys")
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
        return f"{self.operator.code} batch {self.pk} ({self.size})"


class BatchChunk(models.Model):
    """Up to RENEWAL_CHUNK_SIZE numbers of a batch: the unit one delivery carries."""

    batch = models.ForeignKey(RecycleBatch, on_delete=models.CASCADE, related_name="chunks")
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

    def __str__(self) -> str:
        return f"batch {self.batch_id} chunk {self.seq}"

    @property
    def is_complete(self) -> bool:
        return self.deliveries_done >= self.deliveries_total


class BatchEntry(models.Model):
    """One number of one recycling cycle in a chunk; a number recycled again gets a new entry."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="batch_entries")
    cycle = models.OneToOneField(HolderPeriod, on_delete=models.PROTECT, related_name="batch_entry",
                                 help_text=_("The holder period whose end began the recycling cycle."))
    chunk = models.ForeignKey(BatchChunk, on_delete=models.CASCADE, related_name="entries")
    # What the platforms are told, fixed when the batch is made so that every attempt sends the same body.
    disconnected_at = models.DateTimeField(_("disconnected at"))
    release_not_before = models.DateTimeField(_("release not before"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("batch entry")
        verbose_name_plural = _("batch entries")
        indexes = [models.Index(fields=["number", "cycle"], name="entry_number_cycle")]

    def __str__(self) -> str:
        return f"{self.number_id} in chunk {self.chunk_id}"


class DeliveryEvent(models.TextChoices):
    BATCH = "recycled_numbers.batch", "recycled_numbers.batch"
    UNBIND = "unbind.request", "unbind.request"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    CONFIRMED = "confirmed", _("confirmed")
    DEAD = "dead", _("dead")
    CANCELLED = "cancelled", _("cancelled")


FINAL_STATES = (DeliveryState.CONFIRMED, DeliveryState.CANCELLED)
# The largest count a platform may report through the API (numbers confirmed, accounts unbound): no chunk or
# holder comes near it, and it fits every integer column (2**31 - 1 on PostgreSQL) with room to spare.
MAX_REPORTED_COUNT = 1_000_000


class DeliveryQuerySet(models.QuerySet):
    def due(self, now):
        """Return pending deliveries whose next attempt is due."""
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)

    def open(self):
        """Return deliveries not yet confirmed or cancelled."""
        return self.exclude(state__in=FINAL_STATES)


class Delivery(models.Model):
    """One message to one platform; its id is the X-Renewal-Delivery header, the same on every retry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(_("event"), max_length=32, choices=DeliveryEvent.choices)
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="deliveries")
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries",
        help_text=_("The operator whose numbers the delivery carries (its administrators may retry it)."),
    )
    chunk = models.ForeignKey(BatchChunk, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="deliveries", help_text=_("For recycled_numbers.batch deliveries."))
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # Set while one attempt is in flight, so that a duplicate task message does not POST twice at once.
    claimed_until = models.DateTimeField(_("attempt in flight until"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_unbound = models.PositiveIntegerField(_("unbound"), null=True, blank=True)
    confirmed_not_found = models.PositiveIntegerField(_("not found"), null=True, blank=True)

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
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=DeliveryState.values), name="delivery_state_valid"),
            # One delivery per (platform, chunk); unbind deliveries have no chunk.
            models.UniqueConstraint(fields=["chunk", "platform"], name="delivery_chunk_platform_unique"),
            models.CheckConstraint(
                condition=(Q(event=DeliveryEvent.BATCH) & Q(chunk__isnull=False))
                | (Q(event=DeliveryEvent.UNBIND) & Q(chunk__isnull=True)),
                name="delivery_chunk_iff_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.id} → {self.platform_id}"

from renewal.models_subscriber import *  # noqa: E402,F401,F403
