"""Admin for Internet platforms and their API keys: keys and signing secrets are shown once, never stored in clear.

Renewal-platform administrators manage platforms and keys; regulators see them read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from renewal.errors import Invalid
from renewal.models import ApiKey, Platform, PlatformStatus
from renewal.platforms import services
from renewal.platforms.webhook_urls import validate_webhook_url


class PlatformForm(forms.ModelForm):
    support_url = forms.URLField(label=_("support page"), required=False, max_length=300, assume_scheme="https",
                                 help_text=_("Shown to subscribers beside this platform's rejections."))

    class Meta:
        model = Platform
        fields = ["name", "category", "kind", "webhook_url", "status", "max_in_flight", "support_phone",
                  "support_url"]

    def clean_webhook_url(self):
        return validate_webhook_url(self.cleaned_data.get("webhook_url", ""))

    def clean(self):
        data = super().clean()
        # Only a platform whose last conformance check passed goes live (new ones start in the sandbox).
        if data.get("status") == PlatformStatus.LIVE and (self.instance.pk is None or "status" in self.changed_data):
            if self.instance.pk is None:
                self.add_error("status", _("A new platform starts in the sandbox: it goes live after passing the "
                                           "conformance check."))
            else:
                current = Platform.objects.get(pk=self.instance.pk)
                current.webhook_url = data.get("webhook_url", current.webhook_url)
                current.kind = data.get("kind", current.kind)
                refusal = services.platform_live_refusal(current)
                if refusal:
                    self.add_error("status", refusal)
        return data


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    form = PlatformForm
    list_display = ["name", "category", "kind", "status", "delivery_mode", "max_in_flight", "created_at"]
    list_filter = ["status", "kind", "category"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "previous_secret_expires_at"]
    actions = ["rotate_secret", "make_live", "suspend"]

    @admin.display(description=_("delivery"))
    def delivery_mode(self, obj):
        if obj.is_query_only:
            return _("none (queries only)")
        return _("pull-only (API)") if obj.is_pull_only else _("webhook")

    def save_model(self, request, obj, form, change):
        # Through the services, which lock the row, check the webhook URL and write the audit trail.
        if not change:
            created = services.platform_create(name=obj.name, category=obj.category, kind=obj.kind,
                                               webhook_url=obj.webhook_url, status=PlatformStatus.SANDBOX,
                                               max_in_flight=obj.max_in_flight, support_phone=obj.support_phone,
                                               support_url=obj.support_url,
                                               actor=request.user)
            obj.pk, obj.signing_secret_encrypted = created.pk, created.signing_secret_encrypted
            if obj.status != PlatformStatus.SANDBOX:
                services.platform_set_status(platform=created, status=obj.status, actor=request.user)
            secret = services.platform_secrets(created)[0]
            self.message_user(request, format_html(
                _("Signing secret of {}: <code>{}</code> — give it to the platform now; it is not shown again."),
                obj.name, secret), messages.WARNING)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.PLATFORM_FIELDS}
        services.platform_update(platform=obj, changes=changes, actor=request.user)

    @admin.action(description=_("Rotate the signing secret (the old one stays valid for 24 hours)"),
                  permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        for platform in queryset:
            secret = services.platform_rotate_secret(platform=platform, actor=request.user)
            self.message_user(request, format_html(
                _("New signing secret of {}: <code>{}</code> — shown once."), platform.name, secret),
                messages.WARNING)

    def has_rotate_permission(self, request):
        return request.user.has_perm("renewal.rotate_secret")

    @admin.action(description=_("Make live"), permissions=["change"])
    def make_live(self, request, queryset):
        for platform in queryset:
            try:
                services.platform_set_status(platform=platform, status=PlatformStatus.LIVE, actor=request.user)
            except Invalid as exc:
                self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description=_("Suspend (cancels its unsent deliveries)"), permissions=["change"])
    def suspend(self, request, queryset):
        for platform in queryset:
            services.platform_set_status(platform=platform, status=PlatformStatus.SUSPENDED, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # deliveries refer to it: suspend instead


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["platform", "operator", "name"]

    def clean(self):
        data = super().clean()
        if bool(data.get("platform")) == bool(data.get("operator")):
            raise ValidationError(_("Choose one platform or one operator: a key belongs to exactly one."))
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["prefix", "name", "platform", "operator", "created_at", "created_by", "last_used_at",
                    "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "operator"]
    search_fields = ["prefix", "name", "platform__name"]
    autocomplete_fields = ["platform"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["platform", "operator", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = services.api_key_create(platform=obj.platform, operator=obj.operator, name=obj.name,
                                           actor=request.user)
        obj.pk = key.pk
        self.message_user(request, format_html(
            _("The new API key: <code>{}</code> — copy it now; it is not stored and never shown again."), raw),
            messages.WARNING)

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row says who had access when
