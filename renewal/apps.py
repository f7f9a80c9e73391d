from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RenewalConfig(AppConfig):
    name = "renewal"
    verbose_name = _("Renewal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from numbers import hooks
        from renewal import bodies, services  # noqa: F401  (bodies registers the batch body builder)

        hooks.register(releasable_filter=services.renewal_releasable, status=services.renewal_status,
                       release_event_detail=services.release_event_detail)
        if hasattr(hooks, "renewal_statuses"):  # the batched variant, where the sales pages added it
            hooks.renewal_statuses = services.renewal_statuses
        import renewal.dashboard  # noqa: F401  (issue 7: the renewal sections of the regulator's dashboard)
        import renewal.unbind  # noqa: F401  (issue 5: registers the unbind.request body builder)
