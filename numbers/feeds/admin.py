"""The feed upload page for operator administrators: upload a file, a task imports it, the page shows the report.

Operator administrators see and upload only their own operator's files; regulators see every upload read-only.
Files live under PRIVATE_FILES_ROOT and are served only by the report view below, after the same checks.
"""

import csv

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from numbers import roles
from numbers.access import SUPERUSER, account_role, operator_scope, scope_queryset
from numbers.feeds.reasons import REASONS
from numbers.feeds.services import FeedFileError, check_header
from numbers.models import FeedStatus, FeedUpload, Operator
from numbers.timefmt import admin_time

# The largest feed file accepted (a million lines is about 50 MB).
MAX_BYTES = getattr(settings, "FEED_UPLOAD_MAX_BYTES", 256 * 1024 * 1024)
# Rejected lines shown on the page; the downloadable report has all of them.
PREVIEW_LINES = 200
# The report's outcome column holds codes; the page says them in words.
OUTCOMES = {"applied": gettext_lazy("applied"), "already_applied": gettext_lazy("already applied"),
            "rejected": gettext_lazy("rejected")}


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
        from numbers.feeds.tasks import feed_upload_process_task

        pk, language = obj.pk, get_language()
        transaction.on_commit(lambda: feed_upload_process_task.delay(pk, language))

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, _("The file is queued; this page shows its progress and then its report."))
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
            *super().get_urls(),
        ]

    def report_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = self.get_queryset(request).filter(pk=pk).first()
        if upload is None or not upload.report:
            raise Http404
        return FileResponse(upload.report.open("rb"), as_attachment=True, content_type="text/csv",
                            filename=f"feed-{upload.pk}-report.csv")

