from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogtoM2MConfig(AppConfig):
    name = "logto_m2m_django"
    label = "logto_m2m"
    verbose_name = _("Machine-to-machine (M2M)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401 - registers checks and signal handlers
        from ._internal import logfilters

        logfilters.install()
