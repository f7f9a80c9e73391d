"""Risk marks in admin: a regulator places marks on one number or a list, and lifts them.

Every mark goes through `risk_mark_place` / `risk_mark_lift`, so the lifecycle arithmetic, the row
locks and the events (with the regulator's user name as the actor) are the services'. A list is
checked line by line: each bad line is reported with its line number and a reason code, the good
ones are applied, and a mark already in force with the same terms is counted, not placed twice
(so submitting the same list again changes nothing).
"""

import re
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.access import scope_queryset
from numbers.admin_base import NumberSearchMixin, OperatorScopedAdmin
from numbers.errors import DomainError
from numbers.exports import CsvExportMixin
from numbers.models import MarkCategory, MarkEffect, PhoneNumber, RiskMark
from numbers.phone import InvalidMsisdn, normalize_msisdn
from numbers.services import MAX_EXTRA_DAYS, risk_mark_lift, risk_mark_place

# Each line is a locked transition with its event (a few ms, more on a busy server): a list this long
# stays well inside a web worker's timeout. A longer list is split; sending a list again is safe
# (marks already in force with the same terms are counted, not placed twice).
MAX_LINES = 500
MAX_UPLOAD_BYTES = 256 * 1024
_LOOKUP_CHUNK = 500
# Lines applied per commit (a commit per line would cost a disk flush each).
COMMIT_CHUNK = 100
_SPLIT = re.compile(r"[,;\t]")


@dataclass
class LineReport:
    line: int
    text: str
    code: str
    message: str


@dataclass
class PlaceReport:
    applied: list[RiskMark] = field(default_factory=list)
    already: list[LineReport] = field(default_factory=list)
    rejected: list[LineReport] = field(default_factory=list)


def read_lines(text: str) -> list[tuple[int, str]]:
    """Return (line number, first column) of each line that holds something; a header line is skipped."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        cell = _SPLIT.split(line, maxsplit=1)[0].strip().strip('"').strip()
        if not cell or cell.startswith("#"):
            continue
        if not out and not any(ch.isdigit() for ch in cell):
            continue  # a header row ("msisdn")
        out.append((number, cell))
    return out


class PlaceMarksForm(forms.Form):
    numbers = forms.CharField(
        label=gettext_lazy("Numbers"), required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 40, "spellcheck": "false"}),
        help_text=gettext_lazy("One number per line, national (138 0013 8000) or E.164 (+8613800138000)."),
    )
    file = forms.FileField(
        label=gettext_lazy("…or a file"), required=False,
        help_text=gettext_lazy("A text or CSV file (UTF-8), the number in the first column; a header row is allowed."),
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
            raise ValidationError(_("The file is larger than %(kb)d KB.") % {"kb": MAX_UPLOAD_BYTES // 1024},
                                  code="too_large")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(_("The file is not UTF-8 text."), code="encoding") from None

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
        lines = read_lines(upload if upload is not None else text)
        if not lines:
            self.add_error("numbers", ValidationError(_("Enter at least one number."), code="required"))
        elif len(lines) > MAX_LINES:
            self.add_error("numbers", ValidationError(
                _("At most %(max)d numbers at once; this list has %(n)d. Split it.") % {"max": MAX_LINES,
                                                                                     "n": len(lines)},
                code="too_many_lines"))
        data["lines"] = lines
        return data


def marks_place_from_lines(
    *, lines: list[tuple[int, str]], numbers, category: str, authority: str, reference: str, effect: str,
    extra_days: int | None, actor,
) -> PlaceReport:
    """Place one mark per good line through risk_mark_place; report every other line with a reason."""
    report = PlaceReport()
    wanted: dict[str, tuple[int, str]] = {}
    for line, text in lines:
        try:
            msisdn = normalize_msisdn(text)
        except InvalidMsisdn as exc:
            report.rejected.append(LineReport(line, text, "invalid_msisdn", exc.messages[0]))
            continue
        if msisdn in wanted:
            report.rejected.append(LineReport(line, text, "duplicate", _("The same number is on line %(line)d.")
                                              % {"line": wanted[msisdn][0]}))
            continue
        wanted[msisdn] = (line, text)
    # Look the numbers up, and the marks already in force with the same terms, a chunk at a time.
    found: dict[str, PhoneNumber] = {}
    msisdns = list(wanted)
    for start in range(0, len(msisdns), _LOOKUP_CHUNK):
        found.update((n.msisdn, n) for n in numbers.filter(msisdn__in=msisdns[start:start + _LOOKUP_CHUNK]))
    same_terms: set[int] = set()
    ids = [n.pk for n in found.values()]
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        same_terms.update(RiskMark.objects.in_force().filter(
            number_id__in=ids[start:start + _LOOKUP_CHUNK], category=category, authority=authority,
            reference=reference, effect=effect, extra_days=extra_days,
        ).values_list("number_id", flat=True))
    to_place = []
    for msisdn, (line, text) in wanted.items():
        number = found.get(msisdn)
        if number is None:
            report.rejected.append(LineReport(line, text, "unknown_number",
                                              _("%(msisdn)s is not in the portal.") % {"msisdn": msisdn}))
        elif number.pk in same_terms:
            report.already.append(LineReport(line, text, "already_placed",
                                             _("A mark with these terms is already in force.")))
        else:
            to_place.append((line, text, number))
    # Numbers are locked in id order (as the sweeps do), and a chunk of lines shares one commit: each
    # line is still its own transition (a savepoint), so a refused line leaves the others applied.
    to_place.sort(key=lambda item: item[2].pk)
    for start in range(0, len(to_place), COMMIT_CHUNK):
        with transaction.atomic():
            for line, text, number in to_place[start:start + COMMIT_CHUNK]:
                try:
                    mark = risk_mark_place(number=number, category=category, authority=authority,
                                           reference=reference, effect=effect, extra_days=extra_days, actor=actor)
                except DomainError as exc:
                    report.rejected.append(LineReport(line, text, exc.code, exc.message))
                except ValidationError as exc:
                    report.rejected.append(LineReport(line, text, exc.code or "invalid", exc.messages[0]))
                else:
                    report.applied.append(mark)
    report.rejected.sort(key=lambda r: r.line)
    return report


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
        report = None
        if request.method == "POST":
            form = PlaceMarksForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data
                report = marks_place_from_lines(
                    lines=data["lines"], numbers=scope_queryset(PhoneNumber.objects.all(), request.user,
                                                                 ("range_holder", "serving_operator")),
                    category=data["category"], authority=data["authority"], reference=data["reference"].strip(),
                    effect=data["effect"], extra_days=data["extra_days"], actor=request.user,
                )
                self._message_report(request, report)
                # Keep the terms for the next list; the list itself was handled.
                form = PlaceMarksForm(initial={k: data[k] for k in ("category", "authority", "reference", "effect",
                                                                     "extra_days")})
        else:
            form = PlaceMarksForm(initial={"numbers": request.GET.get("numbers", ""),
                                           "effect": MarkEffect.SUSPEND})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Place risk marks"),
            "form": form,
            "report": report,
            "max_lines": MAX_LINES,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/numbers/riskmark/place.html", context)

    def _message_report(self, request, report: PlaceReport) -> None:
        messages.add_message(
            request, messages.SUCCESS if not report.rejected else messages.WARNING,
            _("%(applied)d marks placed, %(already)d already in force, %(rejected)d lines rejected.")
            % {"applied": len(report.applied), "already": len(report.already), "rejected": len(report.rejected)},
        )

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
        if queryset.count() > MAX_LINES:
            messages.error(request, _("At most %(max)d marks at once: narrow the list with its filters.")
                           % {"max": MAX_LINES})
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

