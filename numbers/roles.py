"""The roles (docs/security.md) as Django groups, with exactly their permissions.

A `post_migrate` handler (numbers.apps) calls `sync_roles` after every migrate,
so each group ends with exactly the permissions listed here, on a fresh
database as on an old one. Pages and API views also check the role (and the
user's operator or outlet, numbers.access), so a permission alone never widens
what someone sees. docs/security.md has the whole matrix.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.apps import AppConfig
    from django.apps.registry import Apps
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Group names are codes (the post_migrate sync and every check use them); people read LABELS.
SALES_STAFF = "sales staff"
OPERATOR_ADMIN = "operator administrator"
PLATFORM_ADMIN = "renewal-platform administrator"
REGULATOR = "regulator"
# An engineer of one Internet platform: signs in to the platform account area only (never admin or the staff pages).
PLATFORM_ENGINEER = "platform engineer"
ROLES = (SALES_STAFF, OPERATOR_ADMIN, PLATFORM_ADMIN, REGULATOR, PLATFORM_ENGINEER)
LABELS = {SALES_STAFF: _("sales staff"), OPERATOR_ADMIN: _("operator administrator"),
          PLATFORM_ADMIN: _("renewal-platform administrator"), REGULATOR: _("regulator"),
          PLATFORM_ENGINEER: _("platform engineer")}
# Roles that belong to one operator: an account in one of them always has a staff profile.
OPERATOR_ROLES = frozenset({SALES_STAFF, OPERATOR_ADMIN})
# Roles that work for no operator: an account in one of them never has a staff profile.
OPERATORLESS_ROLES = frozenset({REGULATOR, PLATFORM_ADMIN, PLATFORM_ENGINEER})

_NUMBER_MODELS = ("operator", "outlet", "staffprofile", "phonenumber", "holderperiod", "disclosure",
                  "declinedoffer", "riskmark", "event")


def _view(app: str, models: Iterable[str]) -> set[str]:
    return {f"{app}.view_{m}" for m in models}


ROLE_PERMISSIONS: dict[str, set[str]] = {
    SALES_STAFF: {
        "numbers.view_phonenumber", "numbers.add_holderperiod", "numbers.add_disclosure",
        "numbers.add_declinedoffer", "numbers.view_holderperiod", "numbers.view_disclosure",
        "numbers.view_declinedoffer",
    },
    OPERATOR_ADMIN: _view("numbers", _NUMBER_MODELS) | {
        "numbers.add_outlet", "numbers.change_outlet",
        # Its own sales staff only (numbers.access.managed_users): created with their profile in one form,
        # moved between outlets, switched off; never another role's account.
        "numbers.change_staffprofile", "auth.view_user", "auth.add_user", "auth.change_user",
        "numbers.upload_feed",
        "numbers.export_csv",  # its own operator's lists only (admin querysets are scoped)
        "numbers.view_feedupload", "numbers.add_feedupload",
        "numbers.view_dashboard",  # its own operator's dashboard (portal.dashboard scopes it)
    },
    PLATFORM_ADMIN: {"numbers.view_operator"},
    REGULATOR: _view("numbers", _NUMBER_MODELS) | {
        "numbers.add_riskmark", "numbers.change_riskmark",  # place and lift marks (never edit one)
        "numbers.view_dashboard", "numbers.export_csv", "numbers.view_feedupload",
        "numbers.view_auditentry",  # the audit trail of every admin action, read-only
        # Lists of marks from the authorities, placed through the place form and applied by a task.
        "numbers.view_risklist", "numbers.add_risklist",
    },
}
# Regulators read harassment reports and their evidence,
ROLE_PERMISSIONS[REGULATOR] |= {"renewal.view_harassmentreport", "renewal.view_evidence"}
# and handle them (status and notes only; the admin makes every other field read-only).
ROLE_PERMISSIONS[REGULATOR] |= {"renewal.change_harassmentreport"}
# Regulators keep the table of who handles each kind of harassment (shown to subscribers after a report).
ROLE_PERMISSIONS[REGULATOR] |= {f"renewal.{action}_reportauthority" for action in ("view", "add", "change", "delete")}


# Batch renewal: platform administrators manage platforms, keys and deliveries;
# regulators see everything; operator administrators see and retry their operator's deliveries.
_RENEWAL_MODELS = ("platform", "apikey", "recyclebatch", "batchchunk", "batchentry", "delivery", "conformancecheck",
                   "reassignmentquerycall")
ROLE_PERMISSIONS[PLATFORM_ADMIN] |= _view("renewal", _RENEWAL_MODELS) | {
    "renewal.add_platform", "renewal.change_platform", "renewal.rotate_secret",
    "renewal.add_apikey", "renewal.change_apikey", "renewal.retry_delivery",
}
ROLE_PERMISSIONS[REGULATOR] |= _view("renewal", _RENEWAL_MODELS)
# Registration requests wait for a platform administrator (approve or reject: change); regulators see the queue.
ROLE_PERMISSIONS[PLATFORM_ADMIN] |= {"renewal.view_platformregistration", "renewal.change_platformregistration",
                                     "renewal.view_platformaccount"}
ROLE_PERMISSIONS[REGULATOR] |= {"renewal.view_platformregistration", "renewal.view_platformaccount"}
# Platform engineers hold no model permission: the platform account area checks their platform itself.
ROLE_PERMISSIONS[PLATFORM_ENGINEER] = set()
ROLE_PERMISSIONS[OPERATOR_ADMIN] |= {"renewal.view_delivery", "renewal.view_recyclebatch", "renewal.retry_delivery"}


def sync_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor | None = None) -> None:
    """Create the groups and give each exactly the permissions of ROLE_PERMISSIONS that exist."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, and create_permissions skips those: give them a stand-in.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or types.ModuleType(f"{app_config.name}.models")
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for label in sorted(wanted):
            app_label, codename = label.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


def sync_roles_after_migrate(sender: AppConfig, apps: Apps | None = None, **kwargs: Any) -> None:
    """post_migrate handler; a flush (transactional tests) sends the signal without the migration state."""
    from django.apps import apps as installed_apps

    sync_roles(apps or installed_apps)
