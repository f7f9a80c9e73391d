"""Who may do what in admin: the specification, written once as data.

A row is an admin page (a model, or one of the site's own pages) and an action; a cell is the scope of
rows a role may act on: ALL (every operator's), OWN (its own operator's), OWN_STAFF (its own operator's
sales-staff accounts) — or nothing: refused. Roles absent from every row (sales staff, orphans, mixed
accounts) never get into admin at all; nor do platform engineers, whose pages are the platform account area
(PLATFORM_AREA below).

This module is the spec, not the mechanism: the code enforces it through the roles' permissions
(numbers.roles), the scopes of numbers.access and each admin's own checks. docs/security.md renders this
table (`manage.py permission_matrix`), and tests/numbers/test_permission_matrix.py walks every URL the
admin resolves, as every role, against objects of every other role, and asserts exactly what this allows.
"""

from numbers import roles

SUPERUSER = "superuser"
OPERATOR_ADMIN = roles.OPERATOR_ADMIN
REGULATOR = roles.REGULATOR
PLATFORM_ADMIN = roles.PLATFORM_ADMIN
SALES_STAFF = roles.SALES_STAFF
PLATFORM_ENGINEER = roles.PLATFORM_ENGINEER
ORPHAN = "orphan"
MIXED = "mixed"
# The columns, in the order docs/security.md shows them.
COLUMNS = (SUPERUSER, OPERATOR_ADMIN, REGULATOR, PLATFORM_ADMIN, SALES_STAFF, PLATFORM_ENGINEER, ORPHAN, MIXED)

ALL = "all"
OWN = "own operator"
OWN_STAFF = "own sales staff"
OWN_PLATFORM = "own platform"
OWNER = "own platform, its owner only"

SU, OA, REG, PA = SUPERUSER, OPERATOR_ADMIN, REGULATOR, PLATFORM_ADMIN
_ADMINS = {SU: ALL, OA: ALL, REG: ALL, PA: ALL}
# Records of the lifecycle: every change is a service's, so admin only reads and exports them.
_RECORD = {"view": {SU: ALL, OA: OWN, REG: ALL}, "export": {SU: ALL, OA: OWN, REG: ALL}}

_AUDIT = {"view": {SU: ALL, REG: ALL}, "export": {SU: ALL, REG: ALL}}

MATRIX: dict[str, dict[str, dict[str, str]]] = {
    # The site's own pages: the index (and each app's), the password change, the compliance dashboard.
    "site": {"enter": _ADMINS},
    # The compliance dashboard and its monthly report: an operator administrator's show its own operator only.
    "site.dashboard": {"view": {SU: ALL, OA: OWN, REG: ALL}, "report": {SU: ALL, OA: OWN, REG: ALL}},
    "auth.user": {
        "view": {SU: ALL, OA: OWN_STAFF}, "add": {SU: ALL, OA: OWN_STAFF}, "change": {SU: ALL, OA: OWN_STAFF},
        "password": {SU: ALL, OA: OWN_STAFF}, "reset_link": {SU: ALL, OA: OWN_STAFF}, "delete": {SU: ALL},
        "two_factor_reset": {SU: ALL},
    },
    "auth.group": {"view": {SU: ALL}, "add": {SU: ALL}, "change": {SU: ALL}, "delete": {SU: ALL}},
    "numbers.operator": {
        "view": {SU: ALL, OA: OWN, REG: ALL, PA: ALL}, "add": {SU: ALL}, "change": {SU: ALL}, "delete": {SU: ALL},
    },
    "numbers.outlet": {
        "view": {SU: ALL, OA: OWN, REG: ALL}, "add": {SU: ALL, OA: OWN}, "change": {SU: ALL, OA: OWN},
        "delete": {SU: ALL},
    },
    "numbers.staffprofile": {
        "view": {SU: ALL, OA: OWN_STAFF, REG: ALL}, "add": {SU: ALL}, "change": {SU: ALL, OA: OWN_STAFF},
        "delete": {SU: ALL},
    },
    "numbers.phonenumber": _RECORD,
    "numbers.holderperiod": _RECORD,
    # The customer's drawn signature: regulators and the outlet's operator administrators.
    "numbers.disclosure": {**_RECORD, "signature": {SU: ALL, OA: OWN, REG: ALL}},
    "numbers.declinedoffer": _RECORD,
    "numbers.event": _RECORD,
    "numbers.riskmark": {**_RECORD, "add": {SU: ALL, REG: ALL}, "lift": {SU: ALL, REG: ALL}},
    # The audit trail: read-only for everyone; regulators watch what every account did.
    "numbers.auditentry": _AUDIT,
    # A list of marks placed at once: its page (progress polled), its per-line report. Placed from the mark form.
    "numbers.risklist": {"view": {SU: ALL, REG: ALL}, "report": {SU: ALL, REG: ALL}},
    "numbers.feedupload": {
        "view": {SU: ALL, OA: OWN, REG: ALL}, "add": {SU: ALL, OA: OWN}, "report": {SU: ALL, OA: OWN, REG: ALL},
    },
    "renewal.platform": {
        "view": {SU: ALL, REG: ALL, PA: ALL}, "add": {SU: ALL, PA: ALL}, "change": {SU: ALL, PA: ALL},
        "rotate_secret": {SU: ALL, PA: ALL}, "make_live": {SU: ALL, PA: ALL}, "suspend": {SU: ALL, PA: ALL},
        "run_check": {SU: ALL, PA: ALL}, "send_test_event": {SU: ALL, PA: ALL},
    },
    # The conformance checks with their evidence: read-only (the platform list's action runs one).
    "renewal.conformancecheck": {"view": {SU: ALL, REG: ALL, PA: ALL}},
    # Each reassignment query call: the key, the time, the answers' counts (never the numbers asked).
    "renewal.reassignmentquerycall": {"view": {SU: ALL, REG: ALL, PA: ALL}},
    "renewal.apikey": {
        "view": {SU: ALL, REG: ALL, PA: ALL}, "add": {SU: ALL, PA: ALL}, "change": {SU: ALL, PA: ALL},
        "revoke": {SU: ALL, PA: ALL},
    },
    "renewal.recyclebatch": {"view": {SU: ALL, OA: OWN, REG: ALL, PA: ALL}},
    "renewal.batchchunk": {"view": {SU: ALL, REG: ALL, PA: ALL}},
    "renewal.delivery": {"view": {SU: ALL, OA: OWN, REG: ALL, PA: ALL}, "retry": {SU: ALL, OA: OWN, PA: ALL}},
    "renewal.harassmentreport": {"view": {SU: ALL, REG: ALL}, "export": {SU: ALL, REG: ALL},
                                 "change": {SU: ALL, REG: ALL}},
    # Who handles each kind of harassment: shown to the subscriber after a report, kept by regulators.
    "renewal.reportauthority": {"view": {SU: ALL, REG: ALL}, "add": {SU: ALL, REG: ALL},
                                "change": {SU: ALL, REG: ALL}, "delete": {SU: ALL, REG: ALL}},
    # Registration requests from the public page: platform administrators decide, regulators see the queue.
    "renewal.platformregistration": {"view": {SU: ALL, REG: ALL, PA: ALL}, "change": {SU: ALL, PA: ALL},
                                     "approve": {SU: ALL, PA: ALL}, "reject": {SU: ALL, PA: ALL}},
    # Who works for which platform: read-only (owners invite in the platform account area).
    "renewal.platformaccount": {"view": {SU: ALL, REG: ALL, PA: ALL}},
    # Evidence files of harassment reports, served by their own views (never from the web root).
    "renewal.evidence": {"download": {SU: ALL, REG: ALL}, "preview": {SU: ALL, REG: ALL}},
}

# The platform account area (/platform/, renewal.onboarding): its own sign-in; no admin role gets in, and a
# platform engineer sees and changes its own platform's rows only. tests/renewal/onboarding/test_isolation.py
# walks every URL of the area as every role against both platforms' objects.
PLATFORM_AREA: dict[str, dict[str, str]] = {
    "view": {PLATFORM_ENGINEER: OWN_PLATFORM},
    "change": {PLATFORM_ENGINEER: OWN_PLATFORM},
    "invite": {PLATFORM_ENGINEER: OWNER},
}
MATRIX["platform area"] = PLATFORM_AREA

# What each action means on the pages (for the rendered table).
ACTIONS = {
    "enter": "sign in to admin; the index, each app's page, the password change, the two-factor page",
    "view": "the list, a row's page, its history, its progress (a background job's); autocomplete of it",
    "add": "the add page (for risk marks: placing marks on a number or a list; for feed uploads: the sample files)",
    "change": "saving a row's page",
    "delete": "the delete page and the bulk delete",
    "export": "the CSV export of the list",
    "password": "setting the account's password",
    "two_factor_reset": "resetting the account's two-factor sign-in (it enrols again at its next sign-in)",
    "reset_link": "making a one-time link with which a clerk sets a new password",
    "signature": "the customer's signature drawn on the screen (a PNG)",
    "report": "downloading an upload's or a risk list's report; the dashboard's monthly compliance report",
    "lift": "lifting marks (the lift button and the bulk action)",
    "download": "downloading an evidence file",
    "approve": "approving a platform's registration (the platform is made in the sandbox, its owner e-mailed)",
    "reject": "rejecting a platform's registration",
    "invite": "inviting another engineer of the same platform (platform account area)",
    "preview": "an evidence image shown in the report's page (JPEG, PNG, WebP whose bytes match; else a download)",
    "run_check": "running a sandbox platform's conformance check (an action of the platform list)",
    "send_test_event": "sending a platform a signed ping (an action of the platform list)",
}


def scope(page: str, action: str, role: str) -> str | None:
    """Return the scope of rows `role` may do `action` on at `page`, or None when it is refused."""
    return MATRIX.get(page, {}).get(action, {}).get(role)


def render_markdown() -> str:
    """Return the matrix as a Markdown table, one row per page and action."""
    header = "| page | action | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for page, actions in MATRIX.items():
        for action, cells in actions.items():
            row = [cells.get(role, "—") for role in COLUMNS]
            lines.append(f"| `{page}` | {action} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
