from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RenewalConfig(AppConfig):
    name = "renewal"
    verbose_name = _("Renewal")
    default_auto_field = "django.db.models.BigAutoField"
