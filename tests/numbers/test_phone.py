import pytest
from django.utils import translation

from numbers.phone import InvalidMsisdn, format_national, national_digits, normalize_msisdn, typed_digits


@pytest.mark.parametrize("raw", ["13800138000", "+8613800138000", "+86 138 0013 8000", "0086-138-0013-8000",
                                 " 138-0013-8000 ", "１３８００１３８０００", "＋８６　１３８－００１３－８０００",
                                 "8613800138000", "(138) 0013 8000", "138—0013—8000"])
def test_national_and_international_input_normalise_to_e164(raw):
    assert normalize_msisdn(raw) == "+8613800138000"


@pytest.mark.parametrize("raw, says", [
    ("", "Enter a phone number"),
    ("hello", "is not a phone number"),
    ("1380013", "too short"),
    ("138001380001234567", "too long"),
    ("+999 1234 5678", "unknown country code"),
    ("12345678901", "not a number in use"),
    ("010 6552 9988", "not a mobile number"),
])
def test_bad_numbers_get_an_error_naming_the_problem(raw, says):
    with translation.override("en"), pytest.raises(InvalidMsisdn) as err:
        normalize_msisdn(raw)
    assert says in err.value.messages[0]
    assert err.value.code == "invalid_msisdn"


def test_numbers_are_shown_in_national_format():
    assert format_national("+8613800138000") == "138 0013 8000"


@pytest.mark.parametrize("raw, digits", [
    ("8888", "8888"), ("８８８８", "8888"), ("+86 138 1234 8888", "13812348888"), ("0086-138-1234-8888", "13812348888"),
    ("8613812348888", "13812348888"), ("１２３４　８８８８", "12348888"), ("88a8", "88a8"), ("+1 202", "+1202"),
])
def test_digits_typed_for_a_search_lose_separators_and_the_country_code(raw, digits):
    assert national_digits(raw) == digits


def test_a_typed_code_keeps_its_digits_only_when_they_are_separated():
    assert typed_digits(" １２３ ４５６ ") == "123456"
    assert typed_digits("12-34-56") == "123456"
