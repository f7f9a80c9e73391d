"""Admin of registration requests: renewal-platform administrators approve or reject; regulators read the queue."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from renewal.errors import Invalid
from renewal.models import PlatformAccount, PlatformCategory, PlatformKind, PlatformRegistration, RegistrationState
from renewal.onboarding import services


@admin.register(PlatformRegistration)
class PlatformRegistrationAdmin(admin.ModelAdmin):
    list_display = ["platform_name", "organisation", "kind_label", "contact_email", "state", "created_at",
                    "decided_by"]
    list_filter = ["state"]
    search_fields = ["platform_name", "organisation", "contact_email"]
    readonly_fields = ("organisation", "platform_name", "contact_name", "contact_email", "contact_phone",
                       "category_labels", "kind_label", "webhook_url", "support_phone", "support_url", "state",
                       "created_at", "address", "decided_at", "decided_by", "platform")
    fields = readonly_fields
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False  # requests come from the public registration page

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj):
        return dict(PlatformKind.choices).get(obj.kind, obj.kind)

    @admin.display(description=_("categories"))
    def category_labels(self, obj):
        labels = dict(PlatformCategory.choices)
        return ", ".join(str(labels.get(c, c)) for c in obj.categories or [])

    def has_delete_permission(self, request, obj=None):
        return False  # the decision stays on record

    @admin.action(description=_("Approve: create the platform in the sandbox and e-mail its set-password link"),
                  permissions=["change"])
    def approve(self, request, queryset):
        for registration in queryset.filter(state=RegistrationState.PENDING):
            try:
                account = services.registration_approve(registration=registration, actor=request.user,
                                                        base_url=request.build_absolute_uri("/"))
            except Invalid as exc:
                self.message_user(request, f"{registration}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(platform)s is in the sandbox; the set-password link went to "
                                             "%(email)s.") % {"platform": account.platform,
                                                              "email": account.user.email}, messages.SUCCESS)

    @admin.action(description=_("Reject"), permissions=["change"])
    def reject(self, request, queryset):
        for registration in queryset.filter(state=RegistrationState.PENDING):
            services.registration_reject(registration=registration, actor=request.user)


@admin.register(PlatformAccount)
class PlatformAccountAdmin(admin.ModelAdmin):
    """Who works for which platform (read-only: owners invite, in the platform account area)."""

    list_display = ["user", "platform", "is_owner", "created_at", "invited_by"]
    list_filter = ["is_owner"]
    search_fields = ["user__username", "platform__name"]
    readonly_fields = ["user", "platform", "is_owner", "created_at", "invited_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
