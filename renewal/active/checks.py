"""A system check: the unbind summary SMS, with its short link, fits one zh-hans segment."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils import translation

# A zh-hans SMS segment holds 70 characters (UCS-2); a longer text is sent as two, billed as two and may arrive
# split. The counts are at their longest (three digits: a number is pushed to a few hundred platforms).
SEGMENT = 70
LONGEST_COUNTS = {"unbound": 245, "nothing": 245, "needs": 245}
REFERENCE_LENGTH = 8


def summary_sms_length(base_url: str) -> int:
    """The longest summary SMS in zh-hans with a short link under `base_url` ("" sends none)."""
    from renewal.active.services import SUMMARY_SMS

    with translation.override("zh-hans"):
        text = translation.gettext(SUMMARY_SMS) % LONGEST_COUNTS
    return len(text) + (len(f" {base_url}/r/") + REFERENCE_LENGTH if base_url else 0)


def check_summary_sms_fits(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    base = settings.PUBLIC_BASE_URL
    length = summary_sms_length(base)
    if length <= SEGMENT:
        return []
    room = SEGMENT - summary_sms_length("") - len(" /r/") - REFERENCE_LENGTH
    return [checks.Warning(
        f"PUBLIC_BASE_URL ({base}) is {len(base)} characters: the unbind summary SMS with its link is then "
        f"{length} characters in Chinese, more than one SMS segment ({SEGMENT}).",
        hint=f"Use a public address of at most {room} characters (a short host name, https://, no path).",
        id="renewal.W001",
    )]
