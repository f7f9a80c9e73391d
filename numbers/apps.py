from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NumbersConfig(AppConfig):
    name = "numbers"
    verbose_name = _("Number lifecycle")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from numbers import auth_labels, checks, roles, signals

        checks.register()
        # Role groups and permissions read in the page's language wherever Django shows them.
        auth_labels.install()
        signals.connect()
        # After every migrate, on a fresh database as on an old one, each role has exactly its permissions.
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self, dispatch_uid="numbers.sync_roles")
