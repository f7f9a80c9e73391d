"""The admin's two-factor page: set up an authenticator app, see the recovery codes once, issue new ones.

An account that must enrol reaches it right after its password sign-in (it has no admin permission until
it has enrolled); an enrolled account only from a session that signed in with its code. The QR code is
drawn by the portal itself and shown as a `data:` image, which this page alone allows (its CSP).
"""

from csp.decorators import csp_update
from django import forms
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login

from numbers import two_factor
from numbers.ratelimit import client_address


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code shown by the app"), max_length=8, min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9 ]*", "autofocus": True}),
    )

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if not code.isdigit():
            raise forms.ValidationError(_("The code is 6 digits."), code="digits")
        return code


def _render(request, site, context):
    return TemplateResponse(request, "admin/two_factor.html", {
        **site.each_context(request), "title": _("Two-factor sign-in"), "is_nav_sidebar_enabled": False,
        **context,
    })


@csp_update({"img-src": ["data:"]})  # type: ignore[arg-type]  # django-csp types a view as taking the request only
def _render_with_qr(request, site, context):
    return _render(request, site, context)


@never_cache
@csrf_protect
def two_factor_view(request, site):
    gate = site.two_factor_gate(request)
    if gate is not None:
        return gate
    user = request.user
    address = client_address(request)
    if two_factor.is_enrolled(user):
        codes = None
        if request.method == "POST" and "new_codes" in request.POST:
            codes = two_factor.recovery_codes_issue(user=user, address=address)
        return _render(request, site, {
            "enrolled": True, "recovery_codes": codes, "enrolled_at": two_factor.enrolled_at(user),
            "codes_left": two_factor.recovery_codes_left(user),
        })
    form = EnrolForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        enrolment = two_factor.two_factor_enrol(user=user, token=form.cleaned_data["code"], address=address)
        if enrolment is not None:
            otp_login(request, enrolment.device)  # this session now counts as signed in with the second factor
            return _render(request, site, {"enrolled": True, "just_enrolled": True,
                                           "recovery_codes": enrolment.recovery_codes})
        form.add_error("code", _("That code is not right. Check the app shows the account just added, and "
                                 "enter its current code."))
    device = two_factor.totp_device_start(user=user)
    return _render_with_qr(request, site, {
        "enrolled": False, "form": form, "qr": two_factor.totp_qr_data_uri(device),
        "secret": two_factor.totp_secret(device), "must_enrol": two_factor.must_enrol(user),
    })
