"""Scale: the token endpoint and the protected view on the small database, then again after adding
10,000 apps, 1,000 resources, 20,000 scopes and 2,000 roles (the calling app then holds 50 roles).

``python -m bench.scale --out FILE``. It fills the benchmark database: run it last.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from oauth2_provider.models import get_application_model  # noqa: E402

from bench.inprocess import Bench, uncached_token_case  # noqa: E402
from bench.measure import Case, count_queries, run_interleaved, summary  # noqa: E402
from logto_m2m_django.models import M2MApplication, Resource, Role, Scope  # noqa: E402
from logto_m2m_django.secrets import generate_id, hash_secret  # noqa: E402

APPS, RESOURCES, SCOPES_PER_RESOURCE, ROLES = 10_000, 1_000, 20, 2_000
SCOPES_PER_ROLE, ROLES_PER_APP, CALLER_ROLES = 10, 2, 50
BATCH = 2_000


def cases(bench: Bench, per_round: int, rounds: int) -> list[Case]:
    fresh = iter(bench.mint(per_round * (rounds + 1) + 30, bench.fixture["audience"], ["read:products"]))
    out = [
        Case("bare_post", bench.post("/bare", bench.token_body, bench.basic), per_round=per_round),
        Case("token", bench.post("/oidc/token", bench.token_body, bench.basic), per_round=per_round),
        Case("bare_get", bench.get("/bare"), per_round=per_round),
        Case("m2m_seen", bench.get("/m2m/products", bench.seen), per_round=per_round),
        Case("m2m_first", bench.get_each("/m2m/products", fresh), per_round=per_round),
    ]
    uncached = uncached_token_case(bench, per_round)  # the reads themselves, which the grant cache hides
    return out if uncached is None else [*out, uncached]


def measure(bench: Bench, per_round: int, rounds: int) -> dict[str, Any]:
    todo = cases(bench, per_round, rounds)
    counted = {}
    for case in todo:
        if case.enter is not None:
            case.enter()
        try:
            for _ in range(3):
                case.run()
            counted[case.name] = count_queries(case.run)
        finally:
            if case.leave is not None:
                case.leave()
    run_interleaved(todo, rounds)
    return {case.name: {**summary(case.samples), **counted[case.name]} for case in todo}


@transaction.atomic
def seed(caller_client_id: str) -> dict[str, int]:
    rng = random.Random(9)
    resources = Resource.objects.bulk_create(
        [Resource(name=f"Scale API {i}", indicator=f"https://api{i}.scale.bench") for i in range(RESOURCES)],
        batch_size=BATCH,
    )
    scopes = Scope.objects.bulk_create(
        [Scope(resource=r, name=f"perm:{j}") for r in resources for j in range(SCOPES_PER_RESOURCE)],
        batch_size=BATCH,
    )
    roles = Role.objects.bulk_create([Role(name=f"Scale role {i}") for i in range(ROLES)], batch_size=BATCH)
    role_scope = Role.scopes.through
    links = [
        role_scope(role_id=role.pk, scope_id=scope.pk)
        for role in roles
        for scope in rng.sample(scopes, SCOPES_PER_ROLE)
    ]
    # Some of the caller's roles grant the shopping API's read scope too (duplicates the query must fold).
    read = Scope.objects.get(resource__indicator="https://shopping.api", name="read:products")
    caller_roles = rng.sample(roles, CALLER_ROLES - 2)
    links += [role_scope(role_id=role.pk, scope_id=read.pk) for role in caller_roles[:10]]
    role_scope.objects.bulk_create(links, batch_size=BATCH)

    application_model = get_application_model()
    stored = hash_secret(generate_id(43))
    apps = application_model.objects.bulk_create(
        [
            application_model(
                name=f"Scale app {i}",
                client_id=generate_id(),
                client_type=application_model.CLIENT_CONFIDENTIAL,
                authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
                client_secret=stored,
                hash_client_secret=True,
                redirect_uris="",
            )
            for i in range(APPS)
        ],
        batch_size=BATCH,
    )
    m2m = M2MApplication.objects.bulk_create([M2MApplication(application=a) for a in apps], batch_size=BATCH)
    app_role = M2MApplication.roles.through
    memberships = [
        app_role(m2mapplication_id=record.pk, role_id=role.pk)
        for record in m2m
        for role in rng.sample(roles, ROLES_PER_APP)
    ]
    caller = M2MApplication.objects.get(application__client_id=caller_client_id)
    memberships += [app_role(m2mapplication_id=caller.pk, role_id=role.pk) for role in caller_roles]
    app_role.objects.bulk_create(memberships, batch_size=BATCH)
    return {
        "apps": M2MApplication.objects.count(),
        "resources": Resource.objects.count(),
        "scopes": Scope.objects.count(),
        "roles": Role.objects.count(),
        "caller_roles": caller.roles.count(),
        "role_scope_links": role_scope.objects.count(),
        "app_role_links": app_role.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=25)
    args = parser.parse_args()
    bench = Bench()
    small = measure(bench, args.per_round, args.rounds)
    started = time.monotonic()
    counts = seed(bench.fixture["client_id"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a live database has them
    seeded = round(time.monotonic() - started, 1)
    large = measure(bench, args.per_round, args.rounds)
    Path(args.out).write_text(
        json.dumps({"counts": counts, "seed_seconds": seeded, "small": small, "large": large}, indent=2)
    )


if __name__ == "__main__":
    main()
