"""Forms of the subscriber pages: the number, the code, and the harassment report with evidence."""

import hashlib
import re

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from numbers.phone import InvalidMsisdn, normalize_msisdn, typed, typed_digits
from renewal.models import HarassmentCategory


class NumberForm(forms.Form):
    msisdn = forms.CharField(
        label=_("Your mobile number"), max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "autofocus": True}),
        help_text=_("For example 138 0013 8000."),
    )

    def clean_msisdn(self) -> str:
        try:
            return normalize_msisdn(self.cleaned_data["msisdn"])
        except InvalidMsisdn as exc:
            raise forms.ValidationError(exc.messages[0], code="invalid_msisdn") from None


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("The 6-digit code from the SMS"), max_length=24,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_code(self) -> str:
        # Full-width digits (a Chinese input method's default) and spaces or dashes between them are the code too;
        # anything else is refused here, before it is checked, so it costs none of the tries.
        code = typed_digits(self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(_("Enter the 6 digits of the code from the SMS."), code="invalid")
        return code


# Magic bytes of the accepted evidence types: the content decides, never the file name.
_SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]


# Evidence images a regulator's browser may show inline: raster formats that carry no script.
PREVIEWABLE = ("image/jpeg", "image/png", "image/webp")


def evidence_previewable(evidence, head: bytes) -> bool:
    """An evidence file is shown inline only if its stored type is a previewable image and its bytes agree."""
    return evidence.content_type in PREVIEWABLE and sniff_type(head) == evidence.content_type


def sniff_type(head: bytes) -> str | None:
    """Return the content type that the first bytes of a file prove, or None."""
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Several files (Django's documented pattern), each checked by size and by content."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp,"
                                                                        "application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > settings.EVIDENCE_MAX_FILES:
            raise forms.ValidationError(
                _("Attach at most %(max)d files.") % {"max": settings.EVIDENCE_MAX_FILES}, code="too_many_files")
        cleaned = []
        for f in files:
            f = super().clean(f, initial)
            name = f.name[:200]
            if f.size > settings.EVIDENCE_MAX_BYTES:
                raise forms.ValidationError(
                    _("“%(name)s” is %(size)s; a file may be at most %(max)s. Make it smaller (a screenshot "
                      "or a lower resolution) and attach it again.")
                    % {"name": name, "size": filesizeformat(f.size),
                       "max": filesizeformat(settings.EVIDENCE_MAX_BYTES)},
                    code="too_large")
            f.seek(0)
            content_type = sniff_type(f.read(16))
            f.seek(0)
            if content_type is None:
                raise forms.ValidationError(
                    _("“%(name)s” is not an image (JPEG, PNG, GIF, WebP) or a PDF. Attach a screenshot, a photo "
                      "or a PDF.") % {"name": name},
                    code="wrong_type")
            digest = hashlib.sha256()
            for chunk in f.chunks():
                digest.update(chunk)
            f.seek(0)
            f.sniffed_type, f.sha256 = content_type, digest.hexdigest()
            cleaned.append(f)
        return cleaned


class ReportForm(forms.Form):
    category = forms.ChoiceField(label=_("What kind of harassment"), choices=HarassmentCategory.choices,
                                 widget=forms.RadioSelect)
    sender = forms.CharField(label=_("Sender's number or name"), max_length=100,
                             help_text=_("The number that called or wrote, or the name it used."))
    occurred_at = forms.DateTimeField(
        label=_("When it happened"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=_("The date and time of the last message or call."))
    description = forms.CharField(label=_("What happened"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text=_("What they said or wrote, and how often."))
    evidence = EvidenceField(
        label=_("Evidence (optional)"), required=False,
        help_text=_("Screenshots, photos or PDF files, at most 5 files of 5 MB each."))

    def clean_sender(self) -> str:
        return typed(self.cleaned_data["sender"])

    def clean_occurred_at(self):
        value = self.cleaned_data["occurred_at"]
        if value > timezone.now():
            raise forms.ValidationError(_("This time is in the future. Enter when it happened."), code="future")
        return value
