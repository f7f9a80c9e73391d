"""The canonical fast path of normalize_msisdn answers exactly as phonenumbers' full parser.

The reference is `parse_msisdn` (phonenumbers' parse, validity and number type) and, for accepted numbers,
phonenumbers itself: the same E.164 for every number the fast path accepts, the same rejection reason for
everything else.
"""

import random

import phonenumbers
import pytest
from django.utils import translation
from hypothesis import example, given
from hypothesis import strategies as st

from numbers.phone import InvalidMsisdn, canonical_mobile, normalize_msisdn, parse_msisdn, typed


def answer(function, raw: str) -> tuple[str, str]:
    try:
        return "accepted", function(raw)
    except InvalidMsisdn as exc:
        return "rejected", exc.messages[0]


def full_parser(raw: str) -> tuple[str, str]:
    # What a person typed is folded to ASCII first (full-width digits and the like: numbers.phone.typed).
    stripped = typed(raw)
    if not stripped:
        return answer(normalize_msisdn, raw)  # the empty input is refused before any parsing
    return answer(lambda r: parse_msisdn(r, region="CN"), stripped)


def phonenumbers_e164(raw: str) -> str | None:
    """E.164 if phonenumbers reads `raw` as a valid Chinese mobile number, else None."""
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in mobile:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check(raw: str) -> None:
    with translation.override("en"):
        got, expected = answer(normalize_msisdn, raw), full_parser(raw)
    assert got == expected, raw
    assert (got[1] if got[0] == "accepted" else None) == phonenumbers_e164(raw.strip()), raw


@pytest.fixture(autouse=True)
def _china(settings):
    settings.PHONE_REGION = "CN"


def test_the_fast_path_is_built_from_the_metadata_for_china():
    code, patterns = canonical_mobile("CN")
    assert code == "86"
    assert set(patterns) == set(phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.possible_length)


def test_a_country_code_shared_by_several_regions_has_no_fast_path():
    # +1 is shared by the US, Canada and others: the number's own region needs the full parser.
    assert canonical_mobile("US") is None
    check("2015550123")


def test_every_five_digit_prefix_answers_as_the_full_parser_in_both_canonical_forms():
    rng = random.Random(19)
    for prefix in range(10000, 20000):
        for _ in range(2):
            national = f"{prefix}{rng.randrange(10**6):06d}"
            check(national)
            check("+86" + national)


@given(st.integers(min_value=0, max_value=10**11 - 1))
@example(17951234567)  # a carrier prefix the parser strips
@example(11234567890)
@example(16012345678)
@example(86138001380)  # starts with the country code
def test_any_eleven_digits_answer_as_the_full_parser(value):
    national = f"{value:011d}"
    check(national)
    check("+86" + national)


ODD = st.one_of(
    st.text(alphabet="0123456789+-() .", max_size=18),
    st.builds(lambda d, sep: sep.join([d[:3], d[3:7], d[7:]]), st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
              st.sampled_from([" ", "-", ".", "  "])),
    st.builds(lambda pre, d: pre + d, st.sampled_from(["0086", "86", "+86 ", "+86-", "+860", "0", "00", "+", " "]),
              st.from_regex(r"1[3-9]\d{9}", fullmatch=True)),
    st.builds(lambda d: d.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
              st.from_regex(r"1[3-9]\d{9}", fullmatch=True)),
    st.from_regex(r"\+?\d{5,16}", fullmatch=True),
)


@given(ODD)
@example("+8613800138000 ")
@example(" 13800138000")
@example("+1 201 555 0123")
@example("+85251234567")
@example("١٣٨٠٠١٣٨٠٠٠")  # Arabic-Indic digits: not ASCII, the full parser decides
def test_odd_formats_answer_as_the_full_parser(raw):
    check(raw)
