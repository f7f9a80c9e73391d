"""docs/platform-guide.md lists every error code the API can answer with."""

import importlib
import pkgutil
import re
from pathlib import Path

from rest_framework.exceptions import APIException

import renewal
import renewal.api
from numbers.errors import DomainError
from numbers.feeds.services import REASONS
from numbers.staging import FeedFileError
from renewal.api import errors, middleware

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "platform-guide.md"
# The code that raises the API's errors: its views and the services they call.
SOURCES = [*sorted((ROOT / "renewal" / "api").glob("*.py")), ROOT / "renewal" / "deliveries" / "services.py",
           ROOT / "numbers" / "staging.py"]
_LITERAL = re.compile(r"""(?:\bcode=|"code":\s*|\bdefault_code\s*=\s*|\bcode\s*=\s*)"([a-z0-9_]+)\"""")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def emitted_codes() -> set[str]:
    # Import every renewal module, so that every error class is defined.
    for module in pkgutil.walk_packages(renewal.__path__, "renewal."):
        if ".management." not in module.name and not module.name.endswith(".management"):
            importlib.import_module(module.name)
    codes = {code for _cls, code in errors._CODES} | set(errors._DOMAIN_STATUS) | set(middleware._CODES.values())
    codes |= {"forbidden", "error"}  # the handler's names for a bare 403 and for anything unnamed
    codes |= {cls.default_code for cls in _subclasses(APIException) if cls.__module__.startswith("renewal.")}
    codes |= {cls.code for cls in _subclasses(DomainError) if cls.__module__.startswith("renewal.")}
    codes |= {FeedFileError.code} | set(REASONS)
    for source in SOURCES:
        codes |= set(_LITERAL.findall(source.read_text(encoding="utf-8")))
    # Inventory reasons are a feed file's, never an API item's (the API takes cancellations as items).
    return codes - {"invalid_state", "missing_holder_since", "missing_cancelled_at", "freeze_not_over",
                    "number_exists", "sandbox_number"}


def listed_codes() -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_the_guide_lists_every_code_the_api_can_answer_with():
    missing = emitted_codes() - listed_codes()
    assert not missing, f"list these error codes in docs/platform-guide.md: {sorted(missing)}"


def test_the_scan_finds_the_codes_it_should():
    """The scan is not empty-handed: it sees codes of every kind of source."""
    codes = emitted_codes()
    assert {"invalid_json", "wrong_scope", "too_many_items", "payload_too_large", "already_confirmed",
            "already_reported", "unknown_number", "invalid_line", "not_utf8", "invalid_csv", "server_error"} <= codes
    assert renewal.api  # imported for its modules
