from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """Django's admin with the portal's site as the default one."""

    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        super().ready()  # autodiscovers each app's admin module (numbers.admin: the lifecycle's records)
        # The features' admin pages live in their packages, which autodiscovery does not look into.
        import numbers.feeds.admin  # noqa: F401
        import numbers.oversight.admin  # noqa: F401
        import numbers.oversight.tasks  # noqa: F401  (the place form enqueues the risk-list task by name)
        import renewal.active.admin  # noqa: F401
        import renewal.deliveries.admin  # noqa: F401
        import renewal.platforms.admin  # noqa: F401
