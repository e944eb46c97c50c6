"""What an application may get for one resource: roles -> scopes, in one query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connections, router

from .conf import m2m_settings
from .models import M2MApplication, Resource, Role, RoleType, Scope

#: The Management API's scope that grants every operation (Logto's ``all``).
MANAGEMENT_ALL_SCOPE = "all"


@dataclass(frozen=True, slots=True)
class Grant:
    resource_id: str
    indicator: str
    access_token_ttl: int
    scopes: frozenset[str]


def _column(meta: Any, name: str) -> str:
    return str(meta.get_field(name).column)


@lru_cache(maxsize=4)
def _sql(by_default: bool, vendor: str) -> str:
    qn = connections[router.db_for_read(Resource)].ops.quote_name
    r, s, ro = qn(Resource._meta.db_table), qn(Scope._meta.db_table), qn(Role._meta.db_table)
    role_type = qn(_column(Role._meta, "type"))
    role_scopes = Role.scopes.through._meta
    app_roles = M2MApplication.roles.through._meta
    rs, ar = qn(role_scopes.db_table), qn(app_roles.db_table)
    rs_role, rs_scope = (qn(_column(role_scopes, n)) for n in ("role", "scope"))
    ar_app, ar_role = (qn(_column(app_roles, n)) for n in ("m2mapplication", "role"))
    where = "r.is_default = %s" if by_default else "r.indicator = %s"
    # One row per granted scope (or one row with a NULL scope when the app holds
    # none for this resource, or no row when the resource does not exist).
    # The resource's own scopes are checked one by one: for each, the roles that hold it (index on
    # the scope), and for each such role one unique-index probe of (application, role). So the work
    # grows with the scopes of that resource and the roles holding them, never with the number of
    # apps, of roles the application holds, or of scopes elsewhere.
    # On PostgreSQL, OFFSET 0 fences each EXISTS so that it stays a per-row SubPlan in that order:
    # without it the planner may turn it into a (hashed) semi-join driven by all the roles of the
    # application, the plan a prepared statement's generic plan picks (it estimates 2 roles per app).
    fence = " OFFSET 0" if vendor == "postgresql" else ""
    # Only quoted table and column names from the models are interpolated; values are parameters.
    return (
        f"SELECT r.id, r.indicator, r.access_token_ttl, s.name FROM {r} r "  # noqa: S608
        f"LEFT JOIN {s} s ON s.resource_id = r.id AND EXISTS (SELECT 1 FROM {rs} rs "
        f"WHERE rs.{rs_scope} = s.id AND EXISTS (SELECT 1 FROM {ar} ar "
        # Only machine-to-machine roles grant scopes to an application (a User role
        # assigned by mistake grants nothing, as in Logto).
        f"INNER JOIN {ro} ro ON ro.id = ar.{ar_role} AND ro.{role_type} = %s "
        f"WHERE ar.{ar_role} = rs.{rs_role} AND ar.{ar_app} = %s{fence}){fence}) "
        f"WHERE {where}"
    )


def grant_for(application_pk: Any, indicator: str | None) -> Grant | None:
    """The resource named by ``indicator`` (the default resource when None) and the
    scopes the application holds on it through its roles; None if no such resource."""
    alias = router.db_for_read(Resource)
    connection = connections[alias]
    sql = _sql(indicator is None, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [RoleType.MACHINE_TO_MACHINE.value, application_pk, True if indicator is None else indicator]
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    first = rows[0]
    return Grant(
        resource_id=first[0],
        indicator=first[1],
        access_token_ttl=int(first[2]),
        scopes=frozenset(row[3] for row in rows if row[3] is not None),
    )


def effective_scopes(requested: Iterable[str], grant: Grant) -> list[str]:
    """Requested ∩ granted, in the order requested, without duplicates (Logto drops the rest silently).

    On the Management API, a client that asks for ``all`` without holding it gets the management scopes
    it does hold (Logto's SDK always asks for ``all``; a least-privilege client still works with it).
    """
    requested = list(requested)
    if (
        MANAGEMENT_ALL_SCOPE in requested
        and MANAGEMENT_ALL_SCOPE not in grant.scopes
        and grant.indicator == m2m_settings.MANAGEMENT_API_INDICATOR
    ):
        requested.extend(sorted(grant.scopes))
    seen: set[str] = set()
    out = []
    for name in requested:
        if name in grant.scopes and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def unknown_scopes(requested: Iterable[str], grant: Grant) -> list[str]:
    """The requested scopes that the resource does not define at all (one query), in request order."""
    candidates = [name for name in dict.fromkeys(requested) if name not in grant.scopes]
    if not candidates:
        return []
    known = set(Scope.objects.filter(resource_id=grant.resource_id, name__in=candidates).values_list("name", flat=True))
    return [name for name in candidates if name not in known]
