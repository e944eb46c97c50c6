"""What an application may get for one resource: roles -> scopes, in one query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connections, router

from .models import M2MApplication, Resource, Role, RoleType, Scope


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
    # The resource's own scopes are checked one by one (EXISTS), so the work grows with the
    # scopes of that resource, not with everything the application's roles grant elsewhere.
    # Only quoted table and column names from the models are interpolated; values are parameters.
    return (
        f"SELECT r.id, r.indicator, r.access_token_ttl, s.name FROM {r} r "  # noqa: S608
        f"LEFT JOIN {s} s ON s.resource_id = r.id AND EXISTS (SELECT 1 FROM {rs} rs "
        f"INNER JOIN {ar} ar ON ar.{ar_role} = rs.{rs_role} AND ar.{ar_app} = %s "
        # Only machine-to-machine roles grant scopes to an application (a User role
        # assigned by mistake grants nothing, as in Logto).
        f"INNER JOIN {ro} ro ON ro.id = ar.{ar_role} AND ro.{role_type} = %s "
        f"WHERE rs.{rs_scope} = s.id) "
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
            sql, [application_pk, RoleType.MACHINE_TO_MACHINE.value, True if indicator is None else indicator]
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
    """Requested ∩ granted, in the order requested, without duplicates (Logto drops the rest silently)."""
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
