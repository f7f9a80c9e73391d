from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """Django's admin with the portal's site as the default one."""

    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        from django.core.signals import request_finished

        from portal.logs import clear_request_id

        request_finished.connect(clear_request_id, dispatch_uid="portal.logs.clear_request_id")
        super().ready()  # autodiscovers each app's admin module (numbers.admin: the lifecycle's records)
        # The features' admin pages live in their packages, which autodiscovery does not look into.
        import numbers.feeds.admin  # noqa: F401
        import numbers.oversight.admin  # noqa: F401
        import renewal.active.admin  # noqa: F401
        import renewal.deliveries.admin  # noqa: F401
        import renewal.platforms.admin  # noqa: F401
