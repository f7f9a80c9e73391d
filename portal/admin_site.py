"""The portal's admin site: who may enter, the limited two-factor sign-in, and the site's own pages.

Set as Django's default site by portal.apps.PortalAdminConfig, so every `admin.register` lands here. It is
django-otp's OTPAdminSite (its sign-in persists the verified device in the session), with the portal's rule
of who needs the second factor (numbers.two_factor) in place of "everyone".
"""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from numbers import access, roles, two_factor
from numbers.signin import AdminLoginForm

# The roles that work in admin; sales staff work on the outlet pages.
ADMIN_ROLES = frozenset({access.SUPERUSER, roles.OPERATOR_ADMIN, roles.REGULATOR, roles.PLATFORM_ADMIN})


def is_admin_account(user) -> bool:
    """An active staff account in exactly one admin role (whether or not it has given its second factor)."""
    return user.is_authenticated and user.is_active and user.is_staff and access.account_role(user) in ADMIN_ROLES


class PortalAdminSite(OTPAdminSite):
    site_header = _("Secondary-number renewal portal")
    site_title = _("Renewal portal admin")
    index_template = "admin/portal_index.html"
    login_template = "admin/portal_login.html"
    login_form = AdminLoginForm

    def __init__(self, name: str = "admin"):
        super().__init__(name)  # OTPAdminSite names itself "otpadmin"; the portal's URLs say "admin"

    def has_permission(self, request) -> bool:
        """One admin role (never sales staff, orphans or mixed accounts), signed in strongly enough for it."""
        return is_admin_account(request.user) and two_factor.is_satisfied(request.user)

    def login(self, request, extra_context=None):
        """Send an account that must set up two-factor sign-in there; answer 429 while locked out."""
        if request.method == "GET" and is_admin_account(request.user) and two_factor.must_enrol(request.user):
            return redirect("admin:two_factor")
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if isinstance(form, AdminLoginForm) and form.is_bound and form.is_throttled():
            response.status_code = 429
        return response

    def two_factor_gate(self, request):
        """Return a redirect when the request may not use the two-factor page, else None."""
        user = request.user
        if not is_admin_account(user):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if two_factor.is_enrolled(user) and not two_factor.is_verified(user):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return None

    def get_urls(self):
        from portal import dashboard, two_factor_views

        return [
            path("dashboard/", self.admin_view(dashboard.dashboard_view), name="dashboard"),
            path("dashboard/monthly/", self.admin_view(dashboard.monthly_report_view), name="dashboard_monthly"),
            # Not behind admin_view: an account that must enrol has no admin permission until it has.
            path("two-factor/", two_factor_views.two_factor_view, {"site": self}, name="two_factor"),
            *super().get_urls(),
        ]
