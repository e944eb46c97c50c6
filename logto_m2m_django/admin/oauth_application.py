"""django-oauth-toolkit's Application admin, without the stored secret hash on the change page.

DOT's change form shows ``client_secret``, which for a saved application is the hash
(``logto_m2m_hmac_sha256$salt$digest``). Secrets of M2M applications are shown once, at
creation, and never again, hash included. The add form is left as DOT made it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from oauth2_provider import models as dot_models
from oauth2_provider.models import get_application_model

from ..conf import m2m_settings


def hide_oauth_toolkit_admin(site: admin.AdminSite) -> None:
    """Unregister django-oauth-toolkit's admin pages unless ``LOGTO_M2M["OAUTH_TOOLKIT_ADMIN"]``.

    Its Applications, access/refresh/ID tokens and grants are not how this package is managed:
    M2M apps live under "M2M applications" (a second "Applications" entry would invite making
    an app there, which the token endpoint refuses with ``unauthorized_client``), and the token
    tables stay empty (tokens are JWTs). Read once, when the admin is loaded.
    """
    if m2m_settings.OAUTH_TOOLKIT_ADMIN:
        return
    for getter in (
        "get_application_model",
        "get_access_token_model",
        "get_refresh_token_model",
        "get_grant_model",
        "get_id_token_model",
    ):
        model = getattr(dot_models, getter)()
        if site.is_registered(model):
            site.unregister(model)


def hide_application_secret(site: admin.AdminSite) -> None:
    """Replace the registered Application admin by a subclass that leaves ``client_secret`` out
    of the change form. Does nothing when DOT's admin is not registered (yet)."""
    model = get_application_model()
    current = site._registry.get(model)
    if current is None or getattr(current, "hides_stored_secret", False):
        return
    base: Any = type(current)

    class ApplicationAdmin(base):  # type: ignore[misc,valid-type]
        hides_stored_secret = True

        def get_exclude(self, request: Any, obj: Any = None) -> Any:
            exclude = tuple(super().get_exclude(request, obj) or ())
            if obj is not None and "client_secret" not in exclude:
                exclude += ("client_secret",)
            return exclude

    ApplicationAdmin.__name__ = ApplicationAdmin.__qualname__ = base.__name__
    ApplicationAdmin.__module__ = __name__
    site.unregister(model)
    site.register(model, ApplicationAdmin)
