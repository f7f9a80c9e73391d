"""The portal's admin site: who may enter, the limited sign-in, and the compliance dashboard's URL.

Set as Django's default site by portal.apps.PortalAdminConfig, so every `admin.register` lands here.
"""

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from numbers import access, roles
from numbers.signin import AdminLoginForm

# The roles that work in admin; sales staff work on the outlet pages.
ADMIN_ROLES = frozenset({access.SUPERUSER, roles.OPERATOR_ADMIN, roles.REGULATOR, roles.PLATFORM_ADMIN})


class PortalAdminSite(admin.AdminSite):
    site_header = _("Secondary-number renewal portal")
    site_title = _("Renewal portal admin")
    index_template = "admin/portal_index.html"
    login_form = AdminLoginForm

    def has_permission(self, request) -> bool:
        """Staff in exactly one admin role; never sales staff, orphans or mixed accounts, even with is_staff set."""
        user = request.user
        return user.is_active and user.is_staff and access.account_role(user) in ADMIN_ROLES

    def login(self, request, extra_context=None):
        """Answer 429, with the wait, while an account or address is locked out (as the staff pages do)."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if isinstance(form, AdminLoginForm) and form.is_bound and form.is_throttled():
            response.status_code = 429
        return response

    def get_urls(self):
        from portal import dashboard

        return [path("dashboard/", self.admin_view(dashboard.dashboard_view), name="dashboard"),
                path("dashboard/monthly/", self.admin_view(dashboard.monthly_report_view), name="dashboard_monthly"),
                *super().get_urls()]
