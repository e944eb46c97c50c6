"""The example project's custom claims hook (LOGTO_M2M["CUSTOM_CLAIMS"]): the calling app's tenant and plan.

``m2m demo`` gives the "Order stats" app ``customData = {"tenantId": "demo-shop", "plan": "pro"}``, so
its tokens carry ``"tenant_id": "demo-shop"`` and ``"plan": "pro"``. Edit the app's custom data in the
admin (or with ``PATCH /api/applications/{id}/custom-data``) and the next token follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def token_claims(
    *, token: Mapping[str, Any], context: Mapping[str, Any], environment_variables: Mapping[str, str], api: Any
) -> dict[str, Any]:
    data = (context.get("application") or {}).get("customData") or {}
    if data.get("suspended"):
        api.deny_access("This application's tenant is suspended.")
    claims: dict[str, Any] = {"plan": data.get("plan", "free")}
    if "tenantId" in data:
        claims["tenant_id"] = data["tenantId"]
    if environment_variables.get("DEPLOYMENT"):
        claims["deployment"] = environment_variables["DEPLOYMENT"]
    return claims
