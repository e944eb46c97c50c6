"""The grant query's plan on PostgreSQL: the work does not grow with the roles the application holds.

PostgreSQL plans a prepared statement once (a generic plan) after a few runs, without the parameter
values; this checks that plan (``plan_cache_mode = force_generic_plan``) and the per-request one, on
an application that holds many roles granting scopes on other resources, with planner statistics.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection

from logto_m2m_django import grants
from logto_m2m_django.models import M2MApplication, Resource, Role, RoleType, Scope
from tests.conftest import SHOP, Shop

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OTHER_ROLES = 60


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's nodes on ``table`` returned, over all their loops."""
    total = 0
    if plan.get("Relation Name") == table:
        total += int(plan["Actual Rows"]) * int(plan["Actual Loops"])
    for child in plan.get("Plans", ()):
        total += _rows_read(child, table)
    return total


def _explain(app: M2MApplication, mode: str) -> dict[str, Any]:
    sql = grants._sql(False, connection.vendor)
    numbered = iter(range(1, 10))
    prepared = re.sub("%s", lambda _m: f"${next(numbered)}", sql)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL plan_cache_mode = {mode}")
        cursor.execute("DEALLOCATE ALL")
        cursor.execute(f"PREPARE logto_grant_plan_test AS {prepared}")
        values = [RoleType.MACHINE_TO_MACHINE.value, app.pk, SHOP]
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE logto_grant_plan_test (%s, %s, %s)", values)
        raw = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE logto_grant_plan_test")
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


@pytest.mark.parametrize("mode", ["force_generic_plan", "force_custom_plan"])
def test_grant_query_reads_no_more_links_when_the_app_holds_many_roles(shop: Shop, mode: str) -> None:
    elsewhere = Resource.objects.create(name="Elsewhere", indicator="https://elsewhere.api")
    scopes = Scope.objects.bulk_create([Scope(resource=elsewhere, name=f"perm:{i}") for i in range(OTHER_ROLES * 5)])
    roles = Role.objects.bulk_create([Role(name=f"Other {i}") for i in range(OTHER_ROLES)])
    through = Role.scopes.through
    through.objects.bulk_create(
        [through(role_id=role.pk, scope_id=scopes[i * 5 + j].pk) for i, role in enumerate(roles) for j in range(5)]
    )
    shop.app.roles.add(*roles)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    plan = _explain(shop.app, mode)
    app_roles = M2MApplication.roles.through._meta.db_table
    # One probe per role holding one of the shop's scopes (the reader role): not one per role of the app.
    assert _rows_read(plan, app_roles) <= 2, json.dumps(plan)[:3000]
    grant = grants.grant_for(shop.app.pk, SHOP)
    assert grant is not None and grant.scopes == {"read:products"}
