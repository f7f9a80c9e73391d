"""What a subscriber reads about an unbind request: each platform's outcome, grouped by what it asks of them.

A rejection is shown by its reason code, in the page's language, with the next step and the platform's support
contact — never the platform's own text as the headline (that text, `detail`, is shown beneath, as the
platform's words). Results without a reason code (reported before platforms sent one) read as `other`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from renewal.models import Platform, UnbindResult

# Reason code -> (what happened, what the subscriber can do). The codes are the platform API's vocabulary.
REASONS = {
    "enterprise_account": (
        _("The old account belongs to a company or organisation."),
        _("The platform keeps company accounts until the company removes your number. Contact the platform's "
          "support and say that you are the new holder of this number."),
    ),
    "legal_hold": (
        _("The old account is frozen by a court or the police."),
        _("The platform may not change it while the freeze lasts. Contact the platform's support; keep this page "
          "as proof that you asked."),
    ),
    "identity_check_required": (
        _("The platform needs to check that you hold this number."),
        _("Contact the platform's support: they will ask you to prove that the number is yours (for example with "
          "a code sent to it)."),
    ),
    "assets_or_balance": (
        _("The old account still holds money or other assets."),
        _("The platform must settle them with the previous holder first. Contact its support and ask when the "
          "account will be removed."),
    ),
    "active_contract": (
        _("The old account has a contract that is still running."),
        _("The platform will remove it when the contract ends. Contact its support to ask when."),
    ),
    "other": (
        _("The platform could not remove the old account."),
        _("Contact the platform's support and show them this page."),
    ),
}
NO_ANSWER = (
    _("The platform did not answer in time."),
    _("Send a new request later, or contact the platform's support."),
)

# The groups of the request page, in the order shown: what still needs the subscriber comes first.
NEEDS_YOU = "needs_you"
GROUPS = (NEEDS_YOU, UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, "in_progress")


def support_contact(platform: Platform) -> dict[str, str]:
    """The platform's support contact ({"phone", "url"}, either may be empty)."""
    return {"phone": platform.support_phone, "url": platform.support_url}


def rejection(*, status: str, reason: str = "", detail: str = "", platform: Platform) -> dict[str, Any]:
    """What the page says of a task that needs the subscriber: the headline, the next step, the contact."""
    headline, next_step = NO_ANSWER if status == UnbindResult.NO_ANSWER else REASONS.get(reason, REASONS["other"])
    return {"headline": headline, "next_step": next_step, "detail": detail, "contact": support_contact(platform)}


def group_of(status: str) -> str:
    if status in (UnbindResult.REJECTED, UnbindResult.NO_ANSWER):
        return NEEDS_YOU
    if status in (UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND):
        return status
    return "in_progress"


@dataclass
class Board:
    """The request's tasks in groups, with the counts the progress bar and the summaries need."""

    groups: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {g: [] for g in GROUPS})
    total: int = 0

    @property
    def done(self) -> int:
        return self.total - len(self.groups["in_progress"])

    def count(self, group: str) -> int:
        return len(self.groups[group])

    def sections(self) -> list[dict[str, Any]]:
        titles = {
            NEEDS_YOU: ngettext("%(n)d platform needs you", "%(n)d platforms need you", self.count(NEEDS_YOU)),
            UnbindResult.UNBOUND: ngettext("%(n)d platform removed old accounts",
                                           "%(n)d platforms removed old accounts", self.count(UnbindResult.UNBOUND)),
            UnbindResult.NOTHING_BOUND: ngettext("%(n)d platform had nothing bound",
                                                 "%(n)d platforms had nothing bound",
                                                 self.count(UnbindResult.NOTHING_BOUND)),
            "in_progress": ngettext("%(n)d platform has not answered yet", "%(n)d platforms have not answered yet",
                                    self.count("in_progress")),
        }
        return [{"key": g, "title": titles[g] % {"n": self.count(g)}, "rows": self.groups[g],
                 "open": g == NEEDS_YOU} for g in GROUPS if self.groups[g]]


def board(rows: list[dict[str, Any]]) -> Board:
    out = Board(total=len(rows))
    for row in rows:
        out.groups[group_of(row["status"])].append(row)
    return out
