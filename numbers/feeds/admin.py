"""The feed upload page for operator administrators: upload a file, a task imports it, the page shows the report.

Operator administrators see and upload only their own operator's files; regulators see every upload read-only.
Files live under PRIVATE_FILES_ROOT and are served only by the report view below, after the same checks.
"""

import csv
import errno
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from numbers import roles
from numbers.access import SUPERUSER, account_role, operator_scope, scope_queryset
from numbers.audit import audit_record
from numbers.feeds.reasons import REASONS
from numbers.feeds.services import FeedFileError, check_header, feed_upload_enqueue
from numbers.models import AuditAction, FeedKind, FeedStatus, FeedUpload, Operator
from numbers.queueing import QueueUnavailable
from numbers.ratelimit import client_address
from numbers.timefmt import admin_time

# The largest feed file accepted (a million lines is about 50 MB).
MAX_BYTES = settings.FEED_UPLOAD_MAX_BYTES
# Rejected lines shown on the page; the downloadable report has all of them.
PREVIEW_LINES = 200
# The report's outcome column holds codes; the page says them in words.
OUTCOMES = {"applied": gettext_lazy("applied"), "already_applied": gettext_lazy("already applied"),
            "rejected": gettext_lazy("rejected")}

class Coded:
    """A translated sentence whose {placeholders} are codes a file must hold as they are, shown as code."""

    def __init__(self, text: Any, **codes: str):
        self.text, self.codes = text, codes

    def __html__(self) -> str:
        return format_html(str(self.text), **{k: format_html("<code>{}</code>", v) for k, v in self.codes.items()})

    __str__ = __html__


# What the upload page shows of each feed's format: its columns (name, required, meaning) and a sample file.
FORMATS = {
    "cancellations": {
        "columns": [
            ("msisdn", True, gettext_lazy("the number, national (13800138000) or E.164 (+8613800138000)")),
            ("cancelled_at", True, gettext_lazy("when the service ended: ISO 8601; without an offset, Beijing time")),
            ("reason", False, Coded(gettext_lazy("{cancel} (the default when empty) or {port_out}"),
                                    cancel="cancel", port_out="port_out")),
            ("to_operator", False, Coded(gettext_lazy("for {port_out}: the receiving operator's code"),
                                         port_out="port_out")),
        ],
        "sample": "msisdn,cancelled_at,reason,to_operator\r\n13800138000,2026-11-20T09:30:00+08:00,cancel,\r\n"
                  "+8613900139000,2026-11-21 14:00:00,port_out,CUCC\r\n",
    },
    "inventory": {
        "columns": [
            ("msisdn", True, gettext_lazy("the number, national or E.164")),
            ("state", True, Coded(gettext_lazy("{available}, {active} or {frozen}"), available="available",
                                  active="active", frozen="frozen")),
            ("holder_since", False, gettext_lazy("for active numbers: the start of the current holding")),
            ("cancelled_at", False, gettext_lazy("for frozen (or released) numbers: the cancellation time")),
        ],
        "sample": "msisdn,state,holder_since,cancelled_at\r\n13800138001,available,,\r\n"
                  "13800138002,active,2024-03-01T10:00:00+08:00,\r\n13800138003,frozen,,2026-10-01T08:00:00+08:00\r\n",
    },
}


def user_operator(user) -> Operator | None:
    """The operator a staff account belongs to; None for accounts of no operator (regulators, superusers)."""
    scope = operator_scope(user)
    return scope if isinstance(scope, Operator) else None


class FeedUploadForm(forms.ModelForm):
    class Meta:
        model = FeedUpload
        fields = ["operator", "kind", "file", "dry_run"]

    def __init__(self, *args, operator: Operator | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_operator = operator
        if operator is not None:
            self.fields.pop("operator", None)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB: split it.") % {"mb": MAX_BYTES >> 20},
                                        code="too_large")
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."), code="empty")
        return upload

    def clean(self):
        cleaned = super().clean()
        upload, kind = cleaned.get("file"), cleaned.get("kind")
        if upload is not None and kind:
            try:
                check_header(kind, upload)
            except FeedFileError as exc:
                self.add_error("file", exc.message)
        return cleaned


@admin.register(FeedUpload)
class FeedUploadAdmin(admin.ModelAdmin):
    list_display = ["uploaded_at_local", "operator", "kind", "original_name", "dry_run", "status", "progress",
                    "applied", "already_applied", "rejected"]
    list_filter = ["status", "kind", "operator"]
    list_select_related = ["operator"]
    search_fields = ["original_name"]
    change_form_template = "admin/numbers/feedupload/change_form.html"
    readonly_fields = ["operator", "kind", "original_name", "dry_run", "uploaded_by", "uploaded_at_local", "status",
                       "progress", "applied", "already_applied", "rejected", "rejected_by_reason", "error",
                       "started_at_local", "finished_at_local", "report_lines"]
    # An import report is read to the second.
    uploaded_at_local = admin_time(FeedUpload, "uploaded_at", precision="second")
    started_at_local = admin_time(FeedUpload, "started_at", precision="second")
    finished_at_local = admin_time(FeedUpload, "finished_at", precision="second")

    # --- who sees what ---

    def get_queryset(self, request):
        # Staff of an operator see that operator's uploads only; accounts of no operator (regulators) see all.
        return scope_queryset(super().get_queryset(request), request.user, ("operator",))

    def has_add_permission(self, request):
        user = request.user
        return user.has_perm("numbers.upload_feed") and user.has_perm("numbers.add_feedupload") \
            and account_role(user) in (SUPERUSER, roles.OPERATOR_ADMIN)

    def has_change_permission(self, request, obj=None):
        return False  # an upload is a record: it is read, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    # --- the add form ---

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(self.get_form(request).base_fields)
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        operator = user_operator(request.user)

        class Form(FeedUploadForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, operator=operator, **kw)

        if operator is not None:
            Form.base_fields = {k: v for k, v in FeedUploadForm.base_fields.items() if k != "operator"}
        return Form

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        operator = user_operator(request.user)
        if operator is not None:
            obj.operator = operator
        obj.uploaded_by = request.user
        obj.original_name = (form.cleaned_data["file"].name or "")[-200:]
        obj.status = FeedStatus.QUEUED
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, action=AuditAction.FEED_UPLOAD, obj=obj, address=client_address(request),
                     detail={"operator": obj.operator.code, "kind": obj.kind, "dry_run": obj.dry_run,
                             "file": obj.original_name, "bytes": form.cleaned_data["file"].size})
        pk, language = obj.pk, get_language()

        def queue() -> None:
            # After commit; if the broker refuses it, add_view says so (the upload is marked failed).
            feed_upload_enqueue(upload_id=pk, language=language)
            self.message_user(request, _("The file is queued; this page shows its progress and then its report."))

        transaction.on_commit(queue)

    def response_add(self, request, obj, post_url_continue=None):
        return redirect(reverse("admin:numbers_feedupload_change", args=[obj.pk]))

    # --- the change page: progress and report ---

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj):
        if obj.status == FeedStatus.QUEUED:
            return _("queued")
        if obj.lines:
            return f"{obj.processed:,} / {obj.lines:,} ({100 * obj.processed // obj.lines} %)"
        return _("reading the file") if obj.status == FeedStatus.RUNNING else "–"

    @admin.display(description=gettext_lazy("rejected, by reason"))
    def rejected_by_reason(self, obj):
        reasons = (obj.summary or {}).get("rejected_by_reason") or {}
        if not reasons:
            return "–"
        return format_html_join(_(", "), _("{} <code>{}</code>: {}"),
                                ((REASONS.get(code, ""), code, n) for code, n in sorted(reasons.items())))

    @admin.display(description=gettext_lazy("report"))
    def report_lines(self, obj):
        if not obj.report:
            return "–"
        link = reverse("admin:numbers_feedupload_report", args=[obj.pk])
        rows = []
        with obj.report.open("rb") as raw:
            lines = (b.decode("utf-8") for b in raw)
            body = (line for line in lines if not line.startswith("#"))
            for i, row in enumerate(csv.reader(body)):
                if i == 0:
                    continue
                if i > PREVIEW_LINES:
                    break
                line, msisdn, outcome, reason, message = (row + [""] * 5)[:5]
                rows.append((line, msisdn, OUTCOMES.get(outcome, outcome), reason, message))
        table = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>", rows)
        more = _("Download the whole report (CSV)")
        if not rows:
            return format_html('<a href="{}">{}</a>', link, more)
        return format_html(
            '<p><a href="{}">{}</a></p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            link, more, _("line"), _("number"), _("outcome"), _("reason"), _("message"), table,
        )

    def get_urls(self):
        return [
            path("<int:pk>/report/", self.admin_site.admin_view(self.report_view), name="numbers_feedupload_report"),
            path("<int:pk>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="numbers_feedupload_progress"),
            path("sample/<str:kind>.csv", self.admin_site.admin_view(self.sample_view),
                 name="numbers_feedupload_sample"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        formats = [{"kind": kind, "label": label, "columns": FORMATS[kind]["columns"],
                    "sample": FORMATS[kind]["sample"].replace("\r\n", "\n"),
                    "url": reverse("admin:numbers_feedupload_sample", args=[kind])}
                   for kind, label in FeedKind.choices]
        try:
            return super().add_view(request, form_url, {**(extra_context or {}), "formats": formats,
                                                        "max_mb": MAX_BYTES >> 20})
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # The admin's transaction rolled back and the storage removed the part file: say so, not a 500.
            self.message_user(request, _("The server's disk is full: the file was not stored and nothing was "
                                         "recorded. Try again later, or tell the portal's administrators."),
                              messages.ERROR)
            return redirect(request.path)
        except QueueUnavailable as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(request.path)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if str(object_id).isdigit():
            extra_context = {**(extra_context or {}),
                             "progress_url": reverse("admin:numbers_feedupload_progress", args=[int(object_id)])}
        return super().change_view(request, object_id, form_url, extra_context)

    def progress_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = self.get_queryset(request).filter(pk=pk).first()
        if upload is None:
            raise Http404
        response = JsonResponse({"status": upload.status, "done": upload.processed, "total": upload.lines,
                                 "applied": upload.applied, "already_applied": upload.already_applied,
                                 "rejected": upload.rejected, "error": upload.error,
                                 "finished": upload.status in (FeedStatus.DONE, FeedStatus.FAILED)})
        response["Cache-Control"] = "no-store"
        return response

    def sample_view(self, request, kind: str):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if kind not in FORMATS:
            raise Http404
        response = HttpResponse(FORMATS[kind]["sample"], content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}-sample.csv"'
        return response

    def report_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = self.get_queryset(request).filter(pk=pk).first()
        if upload is None or not upload.report:
            raise Http404
        return FileResponse(upload.report.open("rb"), as_attachment=True, content_type="text/csv",
                            filename=f"feed-{upload.pk}-report.csv")

