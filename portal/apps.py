from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.templatetags import admin_list
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext


def _boolean_icon(field_val):
    """The admin's yes/no icon, its alternative text in the page's language (Django's says True or False)."""
    icon = {True: "yes", False: "no", None: "unknown"}[field_val]
    alt = {True: gettext("Yes"), False: gettext("No"), None: gettext("Unknown")}[field_val]
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{icon}.svg"), alt)


class PortalAdminConfig(AdminConfig):
    """Django's admin with the portal's site as the default one."""

    default_site = "portal.admin_site.PortalAdminSite"

    def ready(self):
        from django.core.signals import request_finished

        from portal.logs import clear_request_id

        request_finished.connect(clear_request_id, dispatch_uid="portal.logs.clear_request_id")
        super().ready()  # autodiscovers each app's admin module (numbers.admin: the lifecycle's records)
        # Every yes/no icon of the admin (lists and read-only fields look it up here when they draw one).
        admin_list._boolean_icon = _boolean_icon
        # The features' admin pages live in their packages, which autodiscovery does not look into.
        # django-otp's own device pages would show authenticator keys and recovery codes in clear, and let a
        # superuser make devices for others: accounts enrol themselves (the site's two-factor page), and a
        # superuser only resets an account's second factor (the user's page).
        from django.contrib import admin
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        import numbers.feeds.admin  # noqa: F401
        import numbers.feeds.tasks  # noqa: F401  (the upload page and the API enqueue the import task by name)
        import numbers.oversight.admin  # noqa: F401
        import numbers.oversight.tasks  # noqa: F401  (the place form enqueues the risk-list task by name)
        import renewal.active.admin  # noqa: F401
        import renewal.conformance.admin  # noqa: F401  (after platforms.admin: it extends the platform list)
        import renewal.deliveries.admin  # noqa: F401
        import renewal.onboarding.admin  # noqa: F401
        import renewal.platforms.admin  # noqa: F401
        import renewal.queries.admin  # noqa: F401

        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
