"""The Logto-compatible Management API: ``/api/applications``, ``/api/resources``, ``/api/roles``.

Include it in the root URLconf with ``path("api/", include("logto_m2m_django.management_api.urls"))``.
"""
