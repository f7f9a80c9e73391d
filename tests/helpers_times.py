"""Times as the pages show them (numbers.timefmt), for assertions on pages rendered in English."""

from django.utils import translation

from numbers.timefmt import local_time


def english_time(value, precision="minute") -> str:
    with translation.override("en"):
        return local_time(value, precision)
