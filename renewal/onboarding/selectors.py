"""What the platform account area reads: always one platform's rows, never another's."""

from django.db.models import QuerySet

from renewal.models import ApiKey, Delivery, DeliveryAttempt, Platform, PlatformAccount


def platform_keys(platform: Platform) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(platform=platform).order_by("revoked_at", "-created_at")


def platform_deliveries(platform: Platform, *, state: str = "") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(platform=platform).order_by("-created_at", "-id")
    return deliveries.filter(state=state) if state else deliveries


def delivery_attempts(delivery: Delivery) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(delivery=delivery, platform_id=delivery.platform_id)


def last_attempts(platform: Platform, deliveries: list[Delivery]) -> dict[object, DeliveryAttempt]:
    """The latest attempt of each delivery on the page, in one query."""
    latest: dict[object, DeliveryAttempt] = {}
    for attempt in DeliveryAttempt.objects.filter(platform=platform, delivery__in=deliveries).order_by(
            "delivery_id", "-started_at", "-id"):
        latest.setdefault(attempt.delivery_id, attempt)
    return latest


def platform_accounts(platform: Platform) -> QuerySet[PlatformAccount]:
    return PlatformAccount.objects.filter(platform=platform).select_related("user")
