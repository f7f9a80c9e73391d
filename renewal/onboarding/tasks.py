"""The periodic check that alerts platforms whose deliveries have started dying."""

from celery import shared_task

from renewal.onboarding import services


@shared_task(name="renewal.onboarding.platform_alerts_task", acks_late=True, reject_on_worker_lost=True)
def platform_alerts_task() -> int:
    return services.alerts_check()
