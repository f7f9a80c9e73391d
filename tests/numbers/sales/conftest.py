import pytest


@pytest.fixture(autouse=True)
def _english(settings):
    """The staff pages in English: the assertions read the English texts."""
    settings.LANGUAGE_CODE = "en"
