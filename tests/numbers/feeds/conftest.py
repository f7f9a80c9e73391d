import pytest
from django.utils import timezone


@pytest.fixture
def now():
    """Now, to the second: the precision of the times in a feed file."""
    return timezone.now().replace(microsecond=0)
