"""``"logto_m2m_django.drf"`` in ``INSTALLED_APPS``: the resource-server toolkit on its own.

A Django project that only validates tokens (its issuer runs elsewhere) installs
this instead of ``"logto_m2m_django"``: it brings the system checks for remote
mode and needs no models, tables or migrations.
"""

from django.apps import AppConfig


class ResourceServerConfig(AppConfig):
    name = "logto_m2m_django.drf"
    label = "logto_m2m_drf"
    verbose_name = "M2M access tokens (resource server)"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the resource-server checks
