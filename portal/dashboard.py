"""The regulator's compliance dashboard: every feature's sections, listed here in the order the page shows them."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.access import ALL_OPERATORS, operator_scope
from numbers.oversight import dashboard as oversight
from renewal.active import dashboard as active
from renewal.deliveries import dashboard as deliveries

SECTIONS = (*oversight.SECTIONS, *deliveries.SECTIONS, *active.SECTIONS)


def can_view_dashboard(user) -> bool:
    """The dashboard shows every operator's figures: for the regulator (or a superuser) only."""
    return user.has_perm("numbers.view_dashboard") and operator_scope(user) == ALL_OPERATORS


def dashboard_view(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    sections = [{"key": s.key, "title": s.title, "template": s.template, "data": s.compute()} for s in SECTIONS]
    context = {
        **admin.site.each_context(request),
        "title": _("Compliance dashboard"),
        "sections": sections,
        "generated_at": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/numbers/dashboard.html", context)
