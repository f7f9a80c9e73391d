"""Admin for batch renewal: platforms, keys (shown once), secret rotation, batches, deliveries and their retry.

Renewal-platform administrators manage platforms and keys and may retry any
dead delivery; an operator administrator sees and retries only deliveries of
their own operator's numbers; regulators see everything read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from numbers.access import scope_queryset
from numbers.admin_base import NoWritesMixin
from renewal import clients, services
from renewal.models import ApiKey, BatchChunk, Delivery, DeliveryState, Platform, PlatformStatus, RecycleBatch


class PlatformForm(forms.ModelForm):
    class Meta:
        model = Platform
        fields = ["name", "category", "kind", "webhook_url", "status"]

    def clean_webhook_url(self):
        return clients.validate_webhook_url(self.cleaned_data.get("webhook_url", ""))


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    form = PlatformForm
    list_display = ["name", "category", "kind", "status", "delivery_mode", "created_at"]
    list_filter = ["status", "kind", "category"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "previous_secret_expires_at"]
    actions = ["rotate_secret", "make_live", "suspend"]

    @admin.display(description=_("delivery"))
    def delivery_mode(self, obj):
        return _("pull-only (API)") if obj.is_pull_only else _("webhook")

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.platform_create(name=obj.name, category=obj.category, kind=obj.kind,
                                               webhook_url=obj.webhook_url, status=PlatformStatus.SANDBOX)
            obj.pk, obj.signing_secret_encrypted = created.pk, created.signing_secret_encrypted
            if obj.status != PlatformStatus.SANDBOX:
                services.platform_set_status(platform=created, status=obj.status)
            secret = services.platform_secrets(created)[0]
            self.message_user(request, format_html(
                _("Signing secret of {}: <code>{}</code> — give it to the platform now; it is not shown again."),
                obj.name, secret), messages.WARNING)
            return
        status_changed = "status" in form.changed_data
        super().save_model(request, obj, form, change)
        if status_changed:
            services.platform_set_status(platform=obj, status=obj.status)

    @admin.action(description=_("Rotate the signing secret (the old one stays valid for 24 hours)"),
                  permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        for platform in queryset:
            secret = services.platform_rotate_secret(platform=platform)
            self.message_user(request, format_html(
                _("New signing secret of {}: <code>{}</code> — shown once."), platform.name, secret),
                messages.WARNING)

    def has_rotate_permission(self, request):
        return request.user.has_perm("renewal.rotate_secret")

    @admin.action(description=_("Make live"), permissions=["change"])
    def make_live(self, request, queryset):
        for platform in queryset:
            services.platform_set_status(platform=platform, status=PlatformStatus.LIVE)

    @admin.action(description=_("Suspend (cancels its unsent deliveries)"), permissions=["change"])
    def suspend(self, request, queryset):
        for platform in queryset:
            services.platform_set_status(platform=platform, status=PlatformStatus.SUSPENDED)

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
            services.api_key_revoke(key=key)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row says who had access when


class ReadOnly(NoWritesMixin, admin.ModelAdmin):
    """Batches, chunks and deliveries change only through the services (sweeps, attempts, retries)."""


@admin.register(RecycleBatch)
class RecycleBatchAdmin(ReadOnly):
    list_display = ["id", "operator", "created_at", "size", "chunk_count", "progress"]
    list_filter = ["operator"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("operator").annotate(
            n_chunks=Count("chunks"), done=Sum("chunks__deliveries_done"), total=Sum("chunks__deliveries_total"))
        return scope_queryset(qs, request.user, ("operator",))

    @admin.display(description=_("chunks"))
    def chunk_count(self, obj):
        return obj.n_chunks

    @admin.display(description=_("deliveries confirmed or cancelled"))
    def progress(self, obj):
        done, total = obj.done or 0, obj.total or 0
        return _("%(done)d of %(total)d — complete") % {"done": done, "total": total} if done >= total else \
            _("%(done)d of %(total)d") % {"done": done, "total": total}


@admin.register(BatchChunk)
class BatchChunkAdmin(ReadOnly):
    list_display = ["id", "batch", "seq", "size", "deliveries_done", "deliveries_total"]
    list_select_related = ["batch__operator"]

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, ("batch__operator",))


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ["id", "event", "platform", "operator", "state", "attempts", "next_attempt_at", "short_error",
                    "created_at", "sent_at", "confirmed_at"]
    list_filter = ["state", "event", "operator"]
    search_fields = ["=id", "platform__name"]
    list_select_related = ["platform", "operator"]
    readonly_fields = ["id", "event", "platform", "operator", "chunk", "state", "attempts", "next_attempt_at",
                       "last_error", "created_at", "sent_at", "confirmed_at", "confirmed_unbound",
                       "confirmed_not_found"]
    fields = readonly_fields
    actions = ["retry"]
    show_full_result_count = False

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, ("operator",))

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def has_retry_permission(self, request):
        return request.user.has_perm("renewal.retry_delivery")

    @admin.action(description=_("Retry the selected dead deliveries"), permissions=["retry"])
    def retry(self, request, queryset):
        # get_queryset already limits an operator administrator to their operator's deliveries.
        count = services.deliveries_retry(deliveries=queryset.filter(Q(state=DeliveryState.DEAD)),
                                          actor=request.user)
        self.message_user(request, _("%(n)d dead deliveries will be sent again.") % {"n": count})


from renewal.admin_subscriber import *  # noqa: E402,F401,F403  (issue 5: harassment reports)
