"""What a custom-claims hook receives about the application, without a query of its own.

The token endpoint already reads the application by client ID (one query). When a hook is
configured, that query also selects :data:`PROFILE_FIELDS` and the application's machine-to-machine
roles as one JSON array (:func:`roles_expression`, a correlated subquery in the same statement), so
the DESIGN §8 budget of two reads holds. The shape follows Logto's application context for client
credentials (``context.application``: the application row without its secret), plus the roles.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django.db.models import Aggregate, OuterRef, Subquery, TextField
from django.db.models.functions import JSONObject

from ..models import M2MApplication, Role, RoleType

#: Extra columns of the token endpoint's client query (the DOT application's values() names).
PROFILE_FIELDS = ("name", "m2m__description", "m2m__custom_data")
#: The annotation holding the roles as JSON text.
ROLES_FIELD = "m2m_roles"
APPLICATION_TYPE = "MachineToMachine"


class _JSONArray(Aggregate):
    """The aggregated values as one JSON array, returned as text on every backend."""

    function = "JSON_GROUP_ARRAY"  # SQLite
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, function="JSON_AGG", template="CAST(%(function)s(%(expressions)s) AS TEXT)", **extra
        )

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_ARRAYAGG", **extra)


def roles_expression() -> Subquery:
    """The machine-to-machine roles of the outer DOT application, as ``[{"id", "name"}, ...]`` JSON text."""
    roles = (
        Role.objects.filter(applications=OuterRef("pk"), type=RoleType.MACHINE_TO_MACHINE)
        .order_by()
        .values("applications")
        .annotate(data=_JSONArray(JSONObject(id="id", name="name")))
        .values("data")
    )
    return Subquery(roles, output_field=TextField())


def _roles(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    roles = [{"id": str(r["id"]), "name": str(r["name"])} for r in value if isinstance(r, dict)]
    return sorted(roles, key=lambda r: (r["name"], r["id"]))


def application_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """``context.application`` from a row of the token endpoint's client query (with the profile)."""
    return {
        "id": row["client_id"],
        "name": row["name"],
        "description": row["m2m__description"] or None,
        "type": APPLICATION_TYPE,
        "customData": row["m2m__custom_data"] or {},
        "roles": _roles(row.get(ROLES_FIELD)),
    }


def application_from_model(m2m: M2MApplication) -> dict[str, Any]:
    """The same context for a saved application (the admin's dry run; this one queries)."""
    roles = m2m.roles.filter(type=RoleType.MACHINE_TO_MACHINE).values("id", "name")
    return {
        "id": m2m.client_id,
        "name": m2m.name,
        "description": m2m.description or None,
        "type": APPLICATION_TYPE,
        # A copy: a hook that changes it must not change the admin form showing it.
        "customData": copy.deepcopy(m2m.custom_data or {}),
        "roles": _roles(list(roles)),
    }
