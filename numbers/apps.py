from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NumbersConfig(AppConfig):
    name = "numbers"
    verbose_name = _("Number lifecycle")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from numbers import checks, signals

        checks.register()
        signals.connect()
