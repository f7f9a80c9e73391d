"""`{% load timefmt %}{{ value|local_time }}`: a time as people read it (numbers.timefmt.local_time).

The argument is the precision: "minute" (the default), "second" or "date".
"""

from datetime import date, datetime

from django import template

from numbers.timefmt import Precision
from numbers.timefmt import local_time as _local_time

register = template.Library()


@register.filter
def local_time(value: datetime | date | str | None, precision: Precision = "minute") -> str:
    return _local_time(value, precision)
