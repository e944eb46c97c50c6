"""System checks of the custom-claims settings (ids ``logto_m2m.E03x`` / ``W03x``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.checks import Error, Warning, register

from ..conf import m2m_settings

#: A token's claims besides the hook's, and its header and signature, take about this many characters.
_TOKEN_OVERHEAD = 1200


def _import_problem(name: str) -> Error | None:
    try:
        hook = getattr(m2m_settings, name)
    except Exception as exc:  # ImportError, or a path import_string can't split
        return Error(
            f'LOGTO_M2M["{name}"] = {m2m_settings.get(name)!r} can\'t be imported: {exc}',
            hint='Give the dotted path of a function, e.g. "myproject.claims.token_claims".',
            id="logto_m2m.E040",
        )
    if hook is not None and not callable(hook):
        return Error(f'LOGTO_M2M["{name}"] is not callable.', id="logto_m2m.E040")
    return None


@register()
def check_custom_claims(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    custom, legacy = m2m_settings.get("CUSTOM_CLAIMS"), m2m_settings.get("EXTRA_CLAIMS")
    for name, value in (("CUSTOM_CLAIMS", custom), ("EXTRA_CLAIMS", legacy)):
        problem = _import_problem(name) if value else None
        if problem is not None:
            problems.append(problem)
    if legacy and custom:
        problems.append(
            Warning(
                'LOGTO_M2M["EXTRA_CLAIMS"] is ignored: LOGTO_M2M["CUSTOM_CLAIMS"] is set.',
                hint='Remove "EXTRA_CLAIMS".',
                id="logto_m2m.W041",
            )
        )
    elif legacy:
        problems.append(
            Warning(
                'LOGTO_M2M["EXTRA_CLAIMS"] is deprecated.',
                hint='Move the hook to LOGTO_M2M["CUSTOM_CLAIMS"]: it is called as hook(token=..., context=..., '
                "environment_variables=..., api=...) and receives the application's name, customData and roles "
                "(see docs/guides/custom-claims.md).",
                id="logto_m2m.W040",
            )
        )
    environment = m2m_settings.get("CUSTOM_CLAIMS_ENVIRONMENT")
    if environment is not None and (
        not isinstance(environment, Mapping) or not all(isinstance(k, str) for k in environment)
    ):
        problems.append(
            Error(
                'LOGTO_M2M["CUSTOM_CLAIMS_ENVIRONMENT"] is not a dict with string keys.',
                hint='e.g. {"PLAN_SERVICE_URL": os.environ["PLAN_SERVICE_URL"]}',
                id="logto_m2m.E041",
            )
        )
    longest = _TOKEN_OVERHEAD + m2m_settings.CUSTOM_CLAIMS_MAX_BYTES * 4 // 3
    if (custom or legacy) and longest > m2m_settings.MAX_TOKEN_LENGTH:
        problems.append(
            Warning(
                f'LOGTO_M2M["CUSTOM_CLAIMS_MAX_BYTES"] = {m2m_settings.CUSTOM_CLAIMS_MAX_BYTES} lets tokens grow '
                f"to about {longest} characters, more than MAX_TOKEN_LENGTH ({m2m_settings.MAX_TOKEN_LENGTH}): "
                "resource servers would refuse them.",
                hint="Lower CUSTOM_CLAIMS_MAX_BYTES, or raise MAX_TOKEN_LENGTH on every resource server.",
                id="logto_m2m.W042",
            )
        )
    return problems
