"""Risk marks in admin: a regulator places marks on one number or a list, and lifts them.

Marks on a list (one number is a list of one) go through `risk_list_submit`: the list is stored and a
background task applies it on the staging machinery (numbers.oversight.services), so a list of millions
of lines neither blocks a web worker nor runs a query per line. The list's page shows its progress
(polling a small JSON endpoint) and then its per-line report. Lifting goes through `risk_mark_lift`.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.admin_base import NumberSearchMixin, OperatorScopedAdmin
from numbers.errors import DomainError
from numbers.exports import CsvExportMixin
from numbers.models import FeedStatus, MarkCategory, MarkEffect, RiskList, RiskMark
from numbers.oversight.services import (
    MAX_PASTED_LINES,
    MAX_UPLOAD_BYTES,
    risk_list_progress,
    risk_list_submit,
    text_lines,
)
from numbers.queueing import QueueUnavailable
from numbers.services import MAX_EXTRA_DAYS, risk_mark_lift

# Marks lifted at once by the bulk action (each is a locked transition with its event).
MAX_LIFT = 500
# Rejected lines shown on a list's page; the downloadable report has all of them.
PREVIEW_LINES = 200


class PlaceMarksForm(forms.Form):
    numbers = forms.CharField(
        label=gettext_lazy("Numbers"), required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 40, "spellcheck": "false"}),
        help_text=gettext_lazy("One number per line, national (138 0013 8000) or E.164 (+8613800138000); "
                               "up to 10,000 lines."),
    )
    file = forms.FileField(
        label=gettext_lazy("…or a file"), required=False,
        help_text=gettext_lazy("A text or CSV file (UTF-8), the number in the first column; a header row is "
                               "allowed; up to 256 MB (about 5,000,000 lines)."),
    )
    category = forms.ChoiceField(label=gettext_lazy("Category"), choices=MarkCategory.choices)
    authority = forms.CharField(label=gettext_lazy("Issuing authority"), max_length=200)
    reference = forms.CharField(label=gettext_lazy("Reference"), max_length=100, required=False)
    effect = forms.ChoiceField(label=gettext_lazy("Effect"), choices=MarkEffect.choices, widget=forms.RadioSelect)
    extra_days = forms.IntegerField(
        label=gettext_lazy("Extend the freeze by (days)"), min_value=1, max_value=MAX_EXTRA_DAYS, required=False,
        help_text=gettext_lazy("Only for “extend the freeze”."),
    )

    def clean_authority(self):
        value = self.cleaned_data["authority"].strip()
        if not value:
            raise ValidationError(_("Name the authority that issued the mark."), code="required")
        return value

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is larger than the limit of %(mb)d MB: split it.")
                                  % {"mb": MAX_UPLOAD_BYTES >> 20}, code="too_large")
        if upload.size == 0:
            raise ValidationError(_("The file is empty."), code="empty")
        return upload

    def clean(self):
        data = super().clean()
        if data.get("effect") == MarkEffect.EXTEND and not data.get("extra_days"):
            self.add_error("extra_days", ValidationError(_("Say by how many days the freeze is extended."),
                                                         code="required"))
        if data.get("effect") == MarkEffect.SUSPEND:
            data["extra_days"] = None
        text, upload = data.get("numbers") or "", data.get("file")
        if "file" in self.errors:
            return data
        if text.strip() and upload:
            raise ValidationError(_("Paste a list or upload a file, not both."), code="both")
        if upload is None:
            try:
                count = text_lines(text)
            except DomainError as exc:
                self.add_error("numbers", ValidationError(exc.message, code="encoding"))
                return data
            if not count:
                self.add_error("numbers", ValidationError(_("Enter at least one number."), code="required"))
            elif count > MAX_PASTED_LINES:
                self.add_error("numbers", ValidationError(
                    _("At most %(max)s numbers can be pasted; this list has %(n)s. Upload it as a file instead "
                      "(up to %(mb)d MB).") % {"max": f"{MAX_PASTED_LINES:,}", "n": f"{count:,}",
                                               "mb": MAX_UPLOAD_BYTES >> 20},
                    code="too_many_lines"))
        return data


class InForceFilter(admin.SimpleListFilter):
    title = gettext_lazy("in force")
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", _("in force")), ("no", _("lifted or ended"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.in_force()
        if self.value() == "no":
            return queryset.exclude(pk__in=RiskMark.objects.in_force().values("pk"))
        return queryset


@admin.register(RiskMark)
class RiskMarkAdmin(NumberSearchMixin, CsvExportMixin, OperatorScopedAdmin):
    """Marks are placed through the place form (the add page) and lifted, never edited or deleted."""

    list_display = ["number", "effect", "extra_days", "category", "authority", "reference", "placed_at",
                    "placed_by", "lifted_at", "ended_at"]
    list_filter = [InForceFilter, "effect", "category", "number__range_holder",
                   ("placed_at", admin.DateFieldListFilter)]
    search_fields = ["number__msisdn", "reference", "authority"]
    number_field = "number__msisdn"
    date_hierarchy = "placed_at"
    list_select_related = ["number", "placed_by", "lifted_by"]
    actions = ["lift_marks"]
    change_form_template = "admin/numbers/riskmark/change_form.html"
    operator_lookups = ("number__range_holder", "number__serving_operator")
    csv_fields = [
        ("msisdn", "number__msisdn"), ("category", "category"), ("effect", "effect"),
        ("extra_days", "extra_days"), ("authority", "authority"), ("reference", "reference"),
        ("placed_at", "placed_at"), ("placed_by", "placed_by__username"), ("lifted_at", "lifted_at"),
        ("lifted_by", "lifted_by__username"), ("ended_at", "ended_at"),
    ]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_lift_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("numbers.change_riskmark")

    def get_urls(self):
        return [
            path("<path:object_id>/lift/", self.admin_site.admin_view(self.lift_view), name="numbers_riskmark_lift"),
            *super().get_urls(),
        ]

    # --- placing ---

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        status = 200
        if request.method == "POST":
            form = PlaceMarksForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data
                upload = data.get("file")
                try:
                    risk_list = risk_list_submit(
                        actor=request.user, category=data["category"], authority=data["authority"],
                        reference=data["reference"], effect=data["effect"], extra_days=data["extra_days"],
                        text=data.get("numbers") or "", upload=upload, name=upload.name if upload else "")
                except QueueUnavailable as exc:
                    # The form comes back as it was sent, so placing the list again is one click.
                    form.add_error(None, exc.message)
                    status = 503
                else:
                    messages.success(request, _("The list is queued; this page shows its progress and then its "
                                                "report."))
                    return redirect(reverse("admin:numbers_risklist_change", args=[risk_list.pk]))
        else:
            form = PlaceMarksForm(initial={"numbers": request.GET.get("numbers", "")[:200],
                                           "effect": MarkEffect.SUSPEND})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Place risk marks"),
            "form": form,
            "max_lines": f"{MAX_PASTED_LINES:,}",
            "max_mb": MAX_UPLOAD_BYTES >> 20,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/numbers/riskmark/place.html", context, status=status)

    # --- lifting ---

    def lift_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_lift_permission(request):
            raise PermissionDenied
        mark = self.get_object(request, unquote(object_id))
        if mark is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        try:
            risk_mark_lift(mark=mark, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The mark on %(number)s was lifted.") % {"number": mark.number})
        return HttpResponseRedirect(reverse("admin:numbers_riskmark_change", args=[mark.pk]))

    @admin.action(description=gettext_lazy("Lift the selected marks"), permissions=["lift"])
    def lift_marks(self, request, queryset):
        if queryset.count() > MAX_LIFT:
            messages.error(request, _("At most %(max)d marks at once: narrow the list with its filters.")
                           % {"max": MAX_LIFT})
            return None
        lifted = skipped = 0
        for mark in queryset.select_related("number").order_by("number_id", "pk"):
            if not mark.in_force:
                skipped += 1
                continue
            try:
                risk_mark_lift(mark=mark, actor=request.user)
            except DomainError:
                skipped += 1  # lifted meanwhile by someone else
            else:
                lifted += 1
        messages.success(request, _("%(lifted)d marks lifted; %(skipped)d were not in force.")
                         % {"lifted": lifted, "skipped": skipped})

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_lift"] = self.has_lift_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)



@admin.register(RiskList)
class RiskListAdmin(admin.ModelAdmin):
    """Lists of marks placed by regulators: read-only records with their progress and per-line report."""

    list_display = ["created_at", "category", "authority", "reference", "effect", "extra_days", "created_by",
                    "status", "progress", "applied", "already_applied", "rejected"]
    list_filter = ["status", "category", "effect"]
    search_fields = ["authority", "reference", "original_name"]
    list_select_related = ["created_by"]
    change_form_template = "admin/numbers/risklist/change_form.html"
    readonly_fields = ["category", "authority", "reference", "effect", "extra_days", "original_name", "created_by",
                       "created_at", "status", "progress", "applied", "already_applied", "rejected",
                       "rejected_by_reason", "error", "started_at", "finished_at", "report_lines"]

    def has_add_permission(self, request):
        return False  # a list is placed through the risk marks' place form

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        return self.readonly_fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pk = unquote(object_id)
        if pk.isdigit():
            extra_context = {**(extra_context or {}),
                             "progress_url": reverse("admin:numbers_risklist_progress", args=[int(pk)])}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj):
        if obj.status == FeedStatus.QUEUED:
            return _("queued")
        if obj.lines:
            return f"{obj.processed:,} / {obj.lines:,} ({100 * obj.processed // obj.lines} %)"
        return _("reading the list") if obj.status == FeedStatus.RUNNING else "–"

    @admin.display(description=gettext_lazy("rejected, by reason"))
    def rejected_by_reason(self, obj):
        reasons = (obj.summary or {}).get("rejected_by_reason") or {}
        if not reasons:
            return "–"
        return format_html_join(", ", "{}: {}", sorted(reasons.items()))

    @admin.display(description=gettext_lazy("report"))
    def report_lines(self, obj):
        if not obj.report:
            return "–"
        link = reverse("admin:numbers_risklist_report", args=[obj.pk])
        rows = []
        with obj.report.open("rb") as raw:
            body = (line for line in (b.decode("utf-8") for b in raw) if not line.startswith("#"))
            for i, row in enumerate(csv.reader(body)):
                if i > PREVIEW_LINES:
                    break
                if i:
                    rows.append(row[:5])
        more = _("Download the whole report (CSV)")
        if not rows:
            return format_html('<a href="{}" id="risk-list-report">{}</a>', link, more)
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<p><a href="{}" id="risk-list-report">{}</a></p><table id="rejected-lines"><thead><tr><th scope="col">{}'
            '</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            link, more, _("line"), _("number"), _("outcome"), _("reason"), _("message"), table)

    def get_urls(self):
        return [
            path("<int:pk>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="numbers_risklist_progress"),
            path("<int:pk>/report/", self.admin_site.admin_view(self.report_view), name="numbers_risklist_report"),
            *super().get_urls(),
        ]

    def _get(self, request, pk: int) -> RiskList:
        if not self.has_view_permission(request):
            raise PermissionDenied
        risk_list = self.get_queryset(request).filter(pk=pk).first()
        if risk_list is None:
            raise Http404
        return risk_list

    def progress_view(self, request, pk: int):
        response = JsonResponse(risk_list_progress(self._get(request, pk)))
        response["Cache-Control"] = "no-store"
        return response

    def report_view(self, request, pk: int):
        risk_list = self._get(request, pk)
        if not risk_list.report:
            raise Http404
        return FileResponse(risk_list.report.open("rb"), as_attachment=True, content_type="text/csv",
                            filename=f"risk-list-{risk_list.pk}-report.csv")
