from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogtoM2MConfig(AppConfig):
    name = "logto_m2m_django"
    label = "logto_m2m"
    verbose_name = _("Machine-to-machine (M2M)")
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        # Our models subclass django-oauth-toolkit's: without it installed, Django would stop on a
        # raw RuntimeError about oauth2_provider.models.Application before any system check runs.
        if self.apps is not None and not self.apps.is_installed("oauth2_provider"):
            from django.core.exceptions import ImproperlyConfigured

            from .project_checks import missing_app_message

            raise ImproperlyConfigured(missing_app_message("oauth2_provider"))
        super().import_models()

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401 - registers checks and signal handlers
        from ._internal import logfilters

        logfilters.install()
        if self.apps is not None and self.apps.is_installed("django.contrib.admin"):
            from django.contrib import admin

            from .admin.oauth_application import hide_application_secret, hide_oauth_toolkit_admin

            hide_application_secret(admin.site)
            hide_oauth_toolkit_admin(admin.site)
