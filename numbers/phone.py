"""Parse and format phone numbers (E.164 on the wire, national input accepted)."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: gettext_lazy("too short"),
    phonenumbers.ValidationResult.TOO_LONG: gettext_lazy("too long"),
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: gettext_lazy("unknown country code"),
    phonenumbers.ValidationResult.INVALID_LENGTH: gettext_lazy("wrong length"),
}


class InvalidMsisdn(ValidationError):
    code = "invalid_msisdn"

    def __init__(self, message: str):
        super().__init__(message, code=self.code)


def normalize_msisdn(value: str, *, region: str | None = None) -> str:
    """Return `value` as E.164 (`+8613800138000`), or raise InvalidMsisdn saying what is wrong."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidMsisdn(_("Enter a phone number."))
    region = region or settings.PHONE_REGION
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidMsisdn(_("“%(value)s” is not a phone number.") % {"value": raw[:40]}) from None
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible in _REASONS:
        raise InvalidMsisdn(
            _("“%(value)s” is not a valid phone number: %(reason)s.")
            % {"value": raw[:40], "reason": _REASONS[possible]}
        )
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidMsisdn(_("“%(value)s” is not a number in use in any numbering plan.") % {"value": raw[:40]})
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidMsisdn(_("“%(value)s” is not a mobile number.") % {"value": raw[:40]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_national(msisdn: str) -> str:
    """Return an E.164 number the way people at home write it (`138 0013 8000`)."""
    try:
        parsed = phonenumbers.parse(msisdn, None)
    except phonenumbers.NumberParseException:
        return msisdn
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
