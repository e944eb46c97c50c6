"""The custom-claims hook of the bench's "token_claims" case: the README's example (tenant and plan from customData)."""

from __future__ import annotations

from typing import Any


def tenant_claims(*, token: Any, context: Any, environment_variables: Any, api: Any) -> dict[str, Any]:
    data = (context.get("application") or {}).get("customData") or {}
    return {"tenant_id": data.get("tenantId", "bench"), "plan": data.get("plan", "free")}
