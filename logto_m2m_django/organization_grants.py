"""What an application may get inside one organization, in one query (Logto's organization tokens).

Two cases, after Logto's client-credentials grant:

- organization only: the organization scopes of the app's machine-to-machine organization roles in
  that organization; the audience is ``urn:logto:organization:<id>``;
- organization and resource: the *resource* scopes those roles hold for that resource (the app's
  global roles do not count); the audience is the resource, and the token carries ``organization_id``.

Each case is one statement that answers the membership question too, so a token request still
costs two reads (the client, then this). Non-membership and an unknown resource are domain errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connections, router

from .grants import Grant
from .models import OrganizationMembership, OrganizationRole, OrganizationScope, Resource, RoleType, Scope
from .models.organizations import organization_urn

#: Lifetime of a plain organization token (Logto's ``reversedResourceAccessTokenTtl``).
ORGANIZATION_TOKEN_TTL = 3600


class NotAMemberError(Exception):
    """The application is not a member of the organization (or there is no such organization)."""


class UnknownResourceError(Exception):
    """The resource requested with the organization is not registered."""


@dataclass(frozen=True, slots=True)
class OrganizationGrant(Grant):
    organization_id: str
    #: True for an organization-level API resource token (claim ``organization_id``).
    with_claim: bool


def _column(model: Any, name: str) -> str:
    return str(model._meta.get_field(name).column)


@lru_cache(maxsize=4)
def _sql(with_resource: bool, alias: str) -> str:
    qn = connections[alias].ops.quote_name
    member_roles = OrganizationMembership.roles.through
    role_scopes = OrganizationRole.scopes.through
    role_resource_scopes = OrganizationRole.resource_scopes.through
    m, mr, ro = (qn(x._meta.db_table) for x in (OrganizationMembership, member_roles, OrganizationRole))
    m_org, m_app = (qn(_column(OrganizationMembership, n)) for n in ("organization", "application"))
    mr_member, mr_role = (
        qn(_column(member_roles, "organizationmembership")),
        qn(_column(member_roles, "organizationrole")),
    )
    ro_type = qn(_column(OrganizationRole, "type"))
    # Only quoted table and column names from the models are interpolated; values are parameters.
    # Only machine-to-machine organization roles grant anything to an application (as in Logto).
    if not with_resource:
        # One row per organization scope granted; one row with a NULL name for a member holding
        # none; no row at all for a non-member.
        rs, os_ = qn(role_scopes._meta.db_table), qn(OrganizationScope._meta.db_table)
        rs_role = qn(_column(role_scopes, "organizationrole"))
        rs_scope = qn(_column(role_scopes, "organizationscope"))
        return (
            f"SELECT m.id, os.name FROM {m} m "  # noqa: S608
            f"LEFT JOIN {mr} mr ON mr.{mr_member} = m.id "
            f"LEFT JOIN {ro} ro ON ro.id = mr.{mr_role} AND ro.{ro_type} = %s "
            f"LEFT JOIN {rs} rs ON rs.{rs_role} = ro.id "
            f"LEFT JOIN {os_} os ON os.id = rs.{rs_scope} "
            f"WHERE m.{m_org} = %s AND m.{m_app} = %s"
        )
    # Always at least one row: the membership (NULL for a non-member), the resource (NULL when
    # unknown) and one row per resource scope the member's roles grant (or one NULL).
    rrs = qn(role_resource_scopes._meta.db_table)
    rrs_role, rrs_scope = (
        qn(_column(role_resource_scopes, "organizationrole")),
        qn(_column(role_resource_scopes, "scope")),
    )
    r, s = qn(Resource._meta.db_table), qn(Scope._meta.db_table)
    s_resource = qn(_column(Scope, "resource"))
    return (
        f"SELECT x.member, r.id, r.indicator, r.access_token_ttl, s.name FROM "  # noqa: S608
        f"(SELECT (SELECT m.id FROM {m} m WHERE m.{m_org} = %s AND m.{m_app} = %s) AS member) x "
        f"LEFT JOIN {r} r ON r.indicator = %s "
        f"LEFT JOIN {s} s ON s.{s_resource} = r.id AND x.member IS NOT NULL AND EXISTS (SELECT 1 FROM {mr} mr "
        f"INNER JOIN {ro} ro ON ro.id = mr.{mr_role} AND ro.{ro_type} = %s "
        f"INNER JOIN {rrs} rrs ON rrs.{rrs_role} = mr.{mr_role} "
        f"WHERE mr.{mr_member} = x.member AND rrs.{rrs_scope} = s.id)"
    )


def organization_grant_for(application_pk: Any, organization_id: str, indicator: str | None) -> OrganizationGrant:
    """The grant of an organization token (``indicator`` None) or of an organization-level API token.

    Raises :class:`NotAMemberError` before anything else (Logto checks membership first), then
    :class:`UnknownResourceError`.
    """
    alias = router.db_for_read(OrganizationMembership)
    m2m = RoleType.MACHINE_TO_MACHINE.value
    with connections[alias].cursor() as cursor:
        if indicator is None:
            cursor.execute(_sql(False, alias), [m2m, organization_id, application_pk])
        else:
            cursor.execute(_sql(True, alias), [organization_id, application_pk, indicator, m2m])
        rows = cursor.fetchall()
    if indicator is None:
        if not rows:
            raise NotAMemberError()
        return OrganizationGrant(
            resource_id="",
            indicator=organization_urn(organization_id),
            access_token_ttl=ORGANIZATION_TOKEN_TTL,
            scopes=frozenset(row[1] for row in rows if row[1] is not None),
            organization_id=organization_id,
            with_claim=False,
        )
    first = rows[0]
    if first[0] is None:
        raise NotAMemberError()
    if first[1] is None:
        raise UnknownResourceError()
    return OrganizationGrant(
        resource_id=first[1],
        indicator=first[2],
        access_token_ttl=int(first[3]),
        scopes=frozenset(row[4] for row in rows if row[4] is not None),
        organization_id=organization_id,
        with_claim=True,
    )
