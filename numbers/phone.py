"""Parse and format phone numbers (E.164 on the wire, national input accepted)."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

_LENGTH_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: gettext_lazy("too short"),
    phonenumbers.ValidationResult.TOO_LONG: gettext_lazy("too long"),
    phonenumbers.ValidationResult.INVALID_LENGTH: gettext_lazy("wrong length"),
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: gettext_lazy("unknown country code"),
}
_PARSE_REASONS = {
    phonenumbers.NumberParseException.TOO_LONG: gettext_lazy("too long"),
    phonenumbers.NumberParseException.TOO_SHORT_NSN: gettext_lazy("too short"),
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: gettext_lazy("too short"),
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: gettext_lazy("unknown country code"),
}
_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


# What people put between digits: spaces, dashes of every kind, dots, brackets, slashes.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.()/]+")


def typed(value: str) -> str:
    """Return what a person typed as plain ASCII where it has an ASCII twin, trimmed.

    A Chinese input method types full-width digits, plus and brackets (`１３８`, `＋`, `（`) and the ideographic
    space; NFKC folds them into `138`, `+`, `(` and a space. Only non-ASCII input pays for it.
    """
    value = value or ""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    return value.strip()


def typed_digits(value: str) -> str:
    """Return a typed code or digit string without separators (`１２３ ４５６` -> `123456`); other characters stay."""
    return _SEPARATORS.sub("", typed(value))


def national_digits(value: str) -> str:
    """Return the digits a person typed for a number, without the country code: `+86 138-0013`, `0086 138 0013`
    and `１３８００１３` all give `1380013`. Anything that is not a digit stays, so the caller can refuse it."""
    digits = typed_digits(value)
    country = str(phonenumbers.country_code_for_region(settings.PHONE_REGION))
    for prefix in (f"+{country}", f"00{country}"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    if len(digits) == 11 + len(country) and digits.startswith(country):  # 8613800138000: a whole number, no +
        return digits[len(country):]
    return digits


class InvalidMsisdn(ValidationError):
    code = "invalid_msisdn"

    def __init__(self, message: str):
        super().__init__(message, code=self.code)


def _invalid(raw: str, reason: StrOrPromise | None = None) -> InvalidMsisdn:
    shown = raw[:40]
    if reason is None:
        return InvalidMsisdn(_("“%(value)s” is not a phone number.") % {"value": shown})
    message = _("“%(value)s” is not a valid mobile number: %(reason)s.")
    return InvalidMsisdn(message % {"value": shown, "reason": reason})


# The number types phonenumbers tries before mobile (its _number_type_helper): a national number that matches
# one of these is not read as mobile even when the mobile pattern matches it too.
_TYPES_BEFORE_MOBILE = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
                        "voicemail")


@functools.cache
def canonical_mobile(region: str) -> tuple[str, dict[int, re.Pattern[str]]] | None:
    """Return (the country code, {length: pattern}) for the canonical forms of `region`'s mobile numbers.

    A bulk file spends most of its parsing on numbers written the canonical way (`13800138000`,
    `+8613800138000`), which phonenumbers takes ~45 µs each to read. The pattern, built once from
    phonenumbers' own metadata (no hand-written table), fully matches the national numbers that the full
    parser would accept as mobile with nothing stripped: the general pattern and the mobile pattern match, no
    type phonenumbers tries first does, and neither a national (carrier) prefix, an international prefix nor the
    country code starts them. Anything else goes through the full parser, so every rejection keeps its reason.
    None when the country code is shared by several regions (then the number's region needs the full parser).
    """
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.mobile is None or not meta.mobile.national_number_pattern:
        return None
    code, general = meta.country_code, meta.general_desc
    if code is None or general is None or tuple(COUNTRY_CODE_TO_REGION_CODE.get(code, ())) != (region,):
        return None

    def applies(desc: phonenumbers.PhoneNumberDesc | None, length: int) -> bool:
        return bool(desc is not None and desc.national_number_pattern
                    and (not desc.possible_length or length in desc.possible_length))

    guards = [f"{code}", "0"]  # a leading country code or zero is read specially by the parser
    guards += [p for p in (meta.national_prefix_for_parsing, meta.international_prefix) if p]
    patterns: dict[int, re.Pattern[str]] = {}
    for length in meta.mobile.possible_length or general.possible_length:
        if not applies(general, length):
            continue
        parts = [rf"(?=\d{{{length}}}\Z)", f"(?=(?:{general.national_number_pattern})\\Z)"]
        parts += [f"(?!(?:{guard}))" for guard in guards]
        for name in _TYPES_BEFORE_MOBILE:
            desc = getattr(meta, name)
            if applies(desc, length):
                parts.append(f"(?!(?:{desc.national_number_pattern})\\Z)")
        parts.append(f"(?:{meta.mobile.national_number_pattern})")
        patterns[length] = re.compile("".join(parts))
    return (str(code), patterns) if patterns else None


def _canonical(raw: str, region: str) -> str | None:
    """Return E.164 for a canonical mobile number of `region` (national digits, or `+<code><digits>`), else None."""
    fast = canonical_mobile(region)
    if fast is None:
        return None
    code, patterns = fast
    national = raw[1 + len(code):] if raw.startswith("+" + code) else raw
    pattern = patterns.get(len(national))
    if pattern is None or not national.isascii() or pattern.fullmatch(national) is None:
        return None
    return f"+{code}{national}"


def normalize_msisdn(value: str, *, region: str | None = None) -> str:
    """Return `value` as E.164 (`+8613800138000`), or raise InvalidMsisdn saying what is wrong.

    Accepts what people type: `13800138000`, `138 0013 8000`, `+86 138…`, `0086-138-…`, full-width digits.
    """
    raw = typed(value)
    if not raw:
        raise InvalidMsisdn(_("Enter a phone number."))
    region = region or settings.PHONE_REGION
    return _canonical(raw, region) or parse_msisdn(raw, region=region)


def parse_msisdn(raw: str, *, region: str) -> str:
    """Return the stripped, non-empty `raw` as E.164 through phonenumbers' full parser, or raise InvalidMsisdn."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise _invalid(raw, _PARSE_REASONS.get(exc.error_type)) from None
    if not phonenumbers.is_valid_number(parsed):
        length = phonenumbers.is_possible_number_for_type_with_reason(parsed, phonenumbers.PhoneNumberType.MOBILE)
        if length in _LENGTH_REASONS:
            raise _invalid(raw, _LENGTH_REASONS[length])
        raise InvalidMsisdn(_("“%(value)s” is not a number in use in any numbering plan.") % {"value": raw[:40]})
    if phonenumbers.number_type(parsed) not in _MOBILE:
        raise InvalidMsisdn(_("“%(value)s” is not a mobile number.") % {"value": raw[:40]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_sandbox_number(msisdn: str | None) -> bool:
    """Whether an E.164 number is one of the reserved test numbers (SANDBOX_NUMBER_PREFIX) that sandbox traffic
    is built from: no importer accepts one, so test traffic never touches a real number."""
    prefix = settings.SANDBOX_NUMBER_PREFIX
    return bool(msisdn and prefix and msisdn.startswith(prefix))


def format_national(msisdn: str) -> str:
    """Return an E.164 number the way people at home write it (`138 0013 8000`)."""
    try:
        parsed = phonenumbers.parse(msisdn, None)
    except phonenumbers.NumberParseException:
        return msisdn
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def msisdn_sha256(msisdn: str) -> str:
    """Return the lowercase hex SHA-256 of an E.164 number's UTF-8 bytes (the contract's `msisdn_sha256`)."""
    return hashlib.sha256(msisdn.encode()).hexdigest()


def msisdn_sha256_sql(column: str, vendor: str) -> str:
    """Return SQL computing `msisdn_sha256` of `column` in the database (SQLite: a function the portal registers)."""
    if vendor == "postgresql":
        return f"encode(sha256(convert_to({column}, 'UTF8')), 'hex')"
    return f"msisdn_sha256({column})"
