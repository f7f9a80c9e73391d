"""Forms of the sales staff's pages: sign-in, number-book search, allocation with disclosure, decline."""

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.models import DisclosureMethod
from numbers.phone import national_digits
from numbers.sales import selectors
from numbers.sales.services import signature_png
from numbers.services import DisclosureInput, validate_customer_ref
from numbers.signin import LimitedLoginMixin


class StaffLoginForm(LimitedLoginMixin, AuthenticationForm):
    """Django's sign-in form, limited per account and per address, and open to sales staff only."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if selectors.staff_outlet(user) is None:
            raise ValidationError(
                _(
                    "This sign-in is for sales staff at an outlet. Your account is not a sales-staff account "
                    "tied to an outlet; operators, platforms and regulators sign in to the administration site."
                ),
                code="not_sales_staff",
            )


class BookSearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Digits"), required=False, max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "8888"}),
    )
    match = forms.ChoiceField(
        label=gettext_lazy("Match"), required=False,
        choices=[(selectors.MATCH_CONTAINS, gettext_lazy("contains")),
                 (selectors.MATCH_ENDS, gettext_lazy("ends with"))],
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Show"), required=False,
        choices=[("", gettext_lazy("all available numbers")),
                 (selectors.KIND_SECONDARY, gettext_lazy("secondary only")),
                 (selectors.KIND_NEW, gettext_lazy("never used only"))],
    )
    after = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)

    def clean_q(self) -> str:
        # As a clerk types it: `+86 138…`, `0086-138-…`, full-width digits, spaces and dashes.
        digits = national_digits(self.cleaned_data["q"])
        if digits and not re.fullmatch(r"[0-9]+", digits):
            raise ValidationError(
                _("Search with digits, e.g. 8888 or a whole number such as 138 0013 8000; “%(typed)s” has other "
                  "characters.") % {"typed": self.cleaned_data["q"][:24]}, code="digits")
        if len(digits) > 11:
            raise ValidationError(_("A mobile number has 11 digits: search with at most 11."), code="too_long")
        return digits

    def _cursor(self, name: str) -> str:
        value = self.cleaned_data[name]
        if value and not re.fullmatch(r"\+\d{1,15}", value):
            raise ValidationError(_("This page link is broken; start from the first page."), code="cursor")
        return value

    def clean_after(self) -> str:
        return self._cursor("after")

    def clean_before(self) -> str:
        return self._cursor("before")

    def book_query(self) -> selectors.BookQuery:
        data = self.cleaned_data
        return selectors.BookQuery(
            digits=data["q"], match=data["match"] or selectors.MATCH_CONTAINS, kind=data["kind"],
            after=data["after"], before=data["before"],
        )


class AllocateForm(forms.Form):
    """Customer reference and, for a secondary number, how the customer was told and that they chose it."""

    customer_ref = forms.CharField(
        label=gettext_lazy("Customer reference"), max_length=64,
        help_text=gettext_lazy("The reference from the operator's customer records. Never a name or an ID number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    method = forms.ChoiceField(
        label=gettext_lazy("How was the customer told?"), required=False, widget=forms.RadioSelect,
        choices=DisclosureMethod.choices,
    )
    confirmed = forms.BooleanField(
        label=gettext_lazy(
            "I told the customer that this number is secondary, with the facts above, and the customer chose it."
        ),
        required=False,
    )
    # The customer's signature drawn on the page's canvas (static/portal/signature.js), as a PNG data URL.
    signature = forms.CharField(required=False, max_length=600_000, widget=forms.HiddenInput)

    def __init__(self, *args, number, **kwargs):
        super().__init__(*args, **kwargs)
        self.number = number
        if not number.is_secondary:
            del self.fields["method"]
            del self.fields["confirmed"]
            del self.fields["signature"]

    def clean_customer_ref(self) -> str:
        return validate_customer_ref(self.cleaned_data["customer_ref"])

    def clean(self):
        data = super().clean()
        if self.number.is_secondary:
            if not data.get("method"):
                self.add_error("method", _("Choose how the customer was told that the number is secondary."))
            if not data.get("confirmed"):
                self.add_error(
                    "confirmed",
                    _("Confirm that the customer was told this number is secondary and chose it; "
                      "otherwise record that the customer declines."),
                )
            if data.get("method") == DisclosureMethod.ESIGN:
                try:
                    self.signature_png = signature_png(data.get("signature", ""))
                except ValidationError as error:
                    # Shown beside the method (the signature box belongs to it); the hidden field has no place.
                    self.add_error("method", error)
        return data

    def disclosure(self) -> DisclosureInput | None:
        if not self.number.is_secondary:
            return None
        return DisclosureInput(method=self.cleaned_data["method"], customer_confirmed=self.cleaned_data["confirmed"],
                               signature_png=getattr(self, "signature_png", None))


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"), required=False, max_length=200,
        help_text=gettext_lazy("e.g. “wants a number never used before”. No names or ID numbers."),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if reason and re.search(r"\d{15}|\d{17}[\dXx]", reason):
            raise ValidationError(_("Leave identity-document numbers out of the reason."), code="id_number")
        return reason
