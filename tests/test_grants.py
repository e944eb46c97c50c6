"""Roles -> scopes for one application and one resource, in one query."""

from __future__ import annotations

import pytest

from logto_m2m_django import grants
from logto_m2m_django.models import Resource, Role, RoleType, Scope
from logto_m2m_django.provisioning import create_application
from tests.conftest import SHOP

pytestmark = pytest.mark.django_db


def test_grant_for_a_resource_the_app_holds(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        grant = grants.grant_for(shop.app.pk, SHOP)
    assert grant is not None
    assert (grant.resource_id, grant.indicator, grant.access_token_ttl) == (shop.resource.pk, SHOP, 3600)
    assert grant.scopes == {"read:products"}


def test_scopes_from_several_roles_are_merged_without_duplicates(shop):
    both = Role.objects.create(name="Shop admin")
    both.scopes.add(shop.read, shop.write)
    shop.app.roles.add(both)
    grant = grants.grant_for(shop.app.pk, SHOP)
    assert grant is not None
    assert grant.scopes == {"read:products", "write:products"}


def test_a_resource_the_app_holds_nothing_for_gives_an_empty_grant(shop, django_assert_num_queries):
    Resource.objects.create(name="Billing", indicator="https://billing.api", access_token_ttl=60)
    with django_assert_num_queries(1):
        grant = grants.grant_for(shop.app.pk, "https://billing.api")
    assert grant is not None
    assert (grant.indicator, grant.access_token_ttl, grant.scopes) == ("https://billing.api", 60, frozenset())


def test_an_app_without_roles_gets_an_empty_grant(shop):
    lonely, _ = create_application("No roles")
    grant = grants.grant_for(lonely.pk, SHOP)
    assert grant is not None
    assert grant.scopes == frozenset()


def test_scopes_held_for_another_resource_do_not_leak(shop):
    billing = Resource.objects.create(name="Billing", indicator="https://billing.api")
    pay = Scope.objects.create(resource=billing, name="pay")
    # The same scope name on another resource, held by the app: not a shop scope.
    Scope.objects.create(resource=billing, name="write:products")
    payer = Role.objects.create(name="Payer")
    payer.scopes.add(pay)
    shop.app.roles.add(payer)
    assert grants.grant_for(shop.app.pk, SHOP).scopes == {"read:products"}
    assert grants.grant_for(shop.app.pk, "https://billing.api").scopes == {"pay"}


def test_roles_of_other_apps_do_not_count(shop):
    writer = Role.objects.create(name="Writer")
    writer.scopes.add(shop.write)
    create_application("Other", roles=[writer])
    assert grants.grant_for(shop.app.pk, SHOP).scopes == {"read:products"}


def test_user_roles_grant_nothing_to_an_application(shop, django_assert_num_queries):
    user_role = Role.objects.create(name="Editors", type=RoleType.USER)
    user_role.scopes.add(shop.write)
    shop.app.roles.add(user_role)
    with django_assert_num_queries(1):
        assert grants.grant_for(shop.app.pk, SHOP).scopes == {"read:products"}


def test_unknown_resource_gives_none(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert grants.grant_for(shop.app.pk, "https://unknown.api") is None


def test_the_indicator_is_matched_exactly(shop):
    for near_miss in ("https://shopping.api/", "HTTPS://SHOPPING.API", "https://shopping.api "):
        assert grants.grant_for(shop.app.pk, near_miss) is None


def test_no_indicator_uses_the_default_resource(shop):
    assert grants.grant_for(shop.app.pk, None) is None
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    grant = grants.grant_for(shop.app.pk, None)
    assert grant is not None
    assert (grant.indicator, grant.scopes) == (SHOP, {"read:products"})


def test_scope_removed_from_the_role_is_no_longer_granted(shop):
    shop.role.scopes.remove(shop.read)
    assert grants.grant_for(shop.app.pk, SHOP).scopes == frozenset()


def test_role_removed_from_the_app_is_no_longer_granted(shop):
    shop.app.roles.remove(shop.role)
    assert grants.grant_for(shop.app.pk, SHOP).scopes == frozenset()


def test_effective_scopes_keep_the_requested_order_without_duplicates():
    grant = grants.Grant("r", SHOP, 3600, frozenset({"a", "b", "c"}))
    assert grants.effective_scopes(["c", "x", "a", "c", "a"], grant) == ["c", "a"]
    assert grants.effective_scopes([], grant) == []
    assert grants.effective_scopes(["x"], grant) == []
