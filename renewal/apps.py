from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RenewalConfig(AppConfig):
    name = "renewal"
    verbose_name = _("Renewal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from numbers import hooks, snapshots
        from renewal.active.checks import check_summary_sms_fits

        checks.register(check_summary_sms_fits)
        from renewal.deliveries import dashboard, services

        # The number lifecycle asks batch renewal, through these hooks, whether a number may be released and how
        # far its renewal has come (numbers never imports renewal).
        hooks.register(releasable_filter=services.renewal_releasable, status=services.renewal_status,
                       statuses=services.renewal_statuses, release_event_detail=services.release_event_detail,
                       release_event_detail_sql=services.release_event_detail_sql)
        from renewal.active import services as active

        # The sales pages send SMS (the disclosure's copy) and, when a number's old accounts are still being
        # removed, an unbind request for its new holder follows the allocation.
        hooks.register_callouts(send_sms=active.sms_enqueue, on_allocated=active.unbind_on_allocation)
        # The dashboard's nightly snapshot records how far renewal has come, beside the numbers by state.
        snapshots.register_stock(dashboard.renewal_completion_stock)
        # The app's Celery tasks are registered in every process: the services enqueue them by name
        # (renewal.deliveries.queue), so tests run them inline and web processes send them to the broker.
        import renewal.active.tasks  # noqa: F401
        import renewal.conformance.tasks  # noqa: F401
        import renewal.deliveries.tasks  # noqa: F401
        import renewal.onboarding.tasks  # noqa: F401
