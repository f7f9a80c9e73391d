"""Admin for the outbox: recycle batches, their chunks, deliveries and the retry of dead ones.

Renewal-platform administrators may retry any dead delivery; an operator administrator sees and retries only
deliveries of its own operator's numbers; regulators see everything read-only.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from numbers.access import AuthenticatedHttpRequest, scope_queryset
from numbers.admin_base import ModelAdmin, NoWritesMixin, TabularInline
from renewal.deliveries import services
from renewal.models import BatchChunk, Delivery, DeliveryAttempt, DeliveryState, RecycleBatch


class ReadOnly(NoWritesMixin, ModelAdmin):
    """Batches, chunks and deliveries change only through the services (sweeps, attempts, retries)."""


@admin.register(RecycleBatch)
class RecycleBatchAdmin(ReadOnly):
    list_display = ["id", "operator", "created_at", "size", "chunk_count", "progress"]
    list_filter = ["operator"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecycleBatch]:
        qs = super().get_queryset(request).select_related("operator").annotate(
            n_chunks=Count("chunks"), done=Sum("chunks__deliveries_done"), total=Sum("chunks__deliveries_total"))
        return scope_queryset(qs, request.user, ("operator",))

    @admin.display(description=_("chunks"))
    def chunk_count(self, obj: Any) -> int:
        return int(obj.n_chunks)

    @admin.display(description=_("deliveries confirmed or cancelled"))
    def progress(self, obj: Any) -> str:
        done, total = obj.done or 0, obj.total or 0
        return _("%(done)d of %(total)d — complete") % {"done": done, "total": total} if done >= total else \
            _("%(done)d of %(total)d") % {"done": done, "total": total}


@admin.register(BatchChunk)
class BatchChunkAdmin(ReadOnly):
    list_display = ["id", "batch", "seq", "size", "deliveries_done", "deliveries_total"]
    list_select_related = ["batch__operator"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BatchChunk]:
        return scope_queryset(super().get_queryset(request), request.user, ("batch__operator",))


class DeliveryAttemptInline(NoWritesMixin, TabularInline):
    """Each POST of the delivery: when, the answer, how long (pruned once the delivery is long confirmed)."""

    model = DeliveryAttempt
    fields = ("started_at", "status_code", "latency_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever may see the delivery sees its attempts (the delivery admin scopes the rows).
        return request.user.has_perm("renewal.view_delivery")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ["id", "event", "platform", "operator", "state", "attempts", "next_attempt_at", "short_error",
                    "created_at", "sent_at", "confirmed_at"]
    list_filter = ["state", "event", "operator"]
    search_fields = ["=id", "platform__name"]
    list_select_related = ["platform", "operator"]
    readonly_fields = ("id", "event", "platform", "operator", "chunk", "state", "attempts", "next_attempt_at",
                       "last_error", "created_at", "sent_at", "confirmed_at", "confirmed_unbound",
                       "confirmed_not_found")
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    actions = ["retry"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return scope_queryset(super().get_queryset(request), request.user, ("operator",))

    @admin.display(description=_("last error"))
    def short_error(self, obj: Delivery) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("renewal.retry_delivery")

    @admin.action(description=_("Retry the selected dead deliveries"), permissions=["retry"])
    def retry(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Delivery]) -> None:
        # get_queryset already limits an operator administrator to their operator's deliveries.
        count = services.deliveries_retry(deliveries=queryset.filter(Q(state=DeliveryState.DEAD)),
                                          actor=request.user)
        self.message_user(request, _("%(n)d dead deliveries will be sent again.") % {"n": count})


