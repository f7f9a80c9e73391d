"""Forms of the registration page and the platform account area."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers import roles
from numbers.access import account_role
from numbers.signin import AdminLoginForm
from renewal.models import (
    MAX_IN_FLIGHT,
    DeliveryState,
    Platform,
    PlatformCategory,
    PlatformKind,
    PlatformRegistration,
    RegistrationState,
)
from renewal.platforms.webhook_urls import validate_webhook_url

_PHONE = RegexValidator(r"^\+?[0-9][0-9 ()-]{2,30}$", gettext_lazy("Digits, spaces, brackets and dashes only."))


def _webhook(value: str) -> str:
    return validate_webhook_url(value)


def _name_free(value: str) -> str:
    taken = Platform.objects.filter(name__iexact=value).exists() or PlatformRegistration.objects.filter(
        platform_name__iexact=value, state=RegistrationState.PENDING).exists()
    if taken:
        raise ValidationError(_("A platform of this name is registered or waiting for approval already."),
                              code="taken")
    return value


class RegistrationForm(forms.Form):
    organisation = forms.CharField(label=gettext_lazy("Organisation"), max_length=200)
    platform_name = forms.CharField(label=gettext_lazy("Application name"), max_length=100,
                                    help_text=gettext_lazy("As subscribers know it."))
    contact_name = forms.CharField(label=gettext_lazy("Contact person"), max_length=100)
    contact_email = forms.EmailField(label=gettext_lazy("Contact e-mail"),
                                     help_text=gettext_lazy("The set-password link goes here once approved."))
    contact_phone = forms.CharField(label=gettext_lazy("Contact phone"), max_length=32, validators=[_PHONE])
    categories = forms.MultipleChoiceField(label=gettext_lazy("Categories"), choices=PlatformCategory.choices,
                                           widget=forms.CheckboxSelectMultiple,
                                           help_text=gettext_lazy("The first one ticked is the main one."))
    # Every kind the portal knows (PlatformKind grows: query-only sites).
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=PlatformKind.choices, widget=forms.RadioSelect)
    pull_only = forms.BooleanField(label=gettext_lazy("Pull-only: we read deliveries through the API (no webhook)"),
                                   required=False)
    webhook_url = forms.CharField(label=gettext_lazy("Webhook URL"), max_length=500, required=False,
                                  help_text=gettext_lazy("HTTPS; no redirects; no private or loopback address."))
    support_phone = forms.CharField(label=gettext_lazy("Support phone shown to subscribers"), max_length=32,
                                    required=False, validators=[_PHONE])
    support_url = forms.URLField(label=gettext_lazy("Support page shown to subscribers"), max_length=300,
                                 required=False, assume_scheme="https")

    def clean_platform_name(self) -> str:
        return _name_free(self.cleaned_data["platform_name"].strip())

    def clean_webhook_url(self) -> str:
        return _webhook(self.cleaned_data.get("webhook_url", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("pull_only") and not data.get("webhook_url") and "webhook_url" not in self.errors:
            self.add_error("webhook_url", _("Enter the webhook URL, or tick pull-only."))
        if data.get("pull_only"):
            data["webhook_url"] = ""
        if not data.get("support_phone") and not data.get("support_url") and not self.errors.get("support_phone"):
            self.add_error("support_phone", _("Give subscribers a support phone or a support page."))
        return data


class PlatformLoginForm(AdminLoginForm):
    """The platform account area's sign-in: the admin's limits, audit and code step; platform engineers only."""

    audit_site = "platform"
    error_messages = AuthenticationForm.error_messages

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("E-mail")
        self.fields["otp_token"].help_text = _("The 6-digit code of your authenticator app, or one of your "
                                               "recovery codes. Leave it empty before you have set one up.")

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if account_role(user) != roles.PLATFORM_ENGINEER or not hasattr(user, "platform_account"):
            raise ValidationError(self.error_messages["invalid_login"], code="not_platform",
                                  params={"username": self.username_field.verbose_name})


class KeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("What the key is for"), max_length=100,
                           help_text=gettext_lazy("For example: production, sandbox tests."))


class SettingsForm(forms.Form):
    webhook_url = forms.CharField(label=gettext_lazy("Webhook URL"), max_length=500, required=False,
                                  help_text=gettext_lazy("Blank: pull-only (GET /api/v1/deliveries)."))
    max_in_flight = forms.IntegerField(label=gettext_lazy("Deliveries in flight at most"), min_value=1,
                                       max_value=MAX_IN_FLIGHT,
                                       help_text=gettext_lazy("How many webhook POSTs the portal keeps open to "
                                                              "you at once."))

    def clean_webhook_url(self) -> str:
        return _webhook(self.cleaned_data.get("webhook_url", ""))


class AlertForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    phone = forms.CharField(label=gettext_lazy("Mobile number for SMS"), max_length=16, required=False,
                            validators=[RegexValidator(r"^\+?[0-9]{5,15}$",
                                                       gettext_lazy("Digits only, with + and the country code."))])


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Engineer's e-mail"))


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False,
                              choices=[("", gettext_lazy("all")), *DeliveryState.choices])



class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code shown by the app"), max_length=8, min_length=6,
        validators=[RegexValidator(r"^[0-9 ]+$", gettext_lazy("The code is 6 digits."))],
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
