"""Models: constraints held by the database as well as by validation, QuerySet helpers, __str__."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.models import get_application_model

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import (
    ApplicationSecret,
    KeyStatus,
    M2MApplication,
    Outcome,
    Resource,
    Role,
    RoleType,
    Scope,
    SigningKey,
    TokenActivity,
)
from logto_m2m_django.provisioning import add_secret, create_application, effective_permissions, reset_default_secret
from tests.conftest import SHOP

pytestmark = pytest.mark.django_db


def refused_by_the_database(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


# -- resources -----------------------------------------------------------------------------------------------


def test_resource_defaults_and_str(shop):
    assert shop.resource.access_token_ttl == 3600
    assert shop.resource.is_default is False
    assert len(shop.resource.pk) == 21
    assert str(shop.resource) == "Online shopping (https://shopping.api)"


def test_indicator_is_unique(shop):
    refused_by_the_database(lambda: Resource.objects.create(name="Again", indicator=SHOP))


def test_only_one_default_resource(shop):
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    refused_by_the_database(lambda: Resource.objects.create(name="B", indicator="https://b.api", is_default=True))
    Resource.objects.create(name="C", indicator="https://c.api", is_default=False)
    assert list(Resource.objects.default()) == [Resource.objects.get(pk=shop.resource.pk)]


@pytest.mark.parametrize("ttl", [0, 86400 * 30 + 1])
def test_token_lifetime_range_is_a_database_constraint(ttl):
    refused_by_the_database(lambda: Resource.objects.create(name="R", indicator="https://r.api", access_token_ttl=ttl))


def test_empty_indicator_is_a_database_constraint():
    refused_by_the_database(lambda: Resource.objects.create(name="R", indicator=""))


@pytest.mark.parametrize(
    ("indicator", "message"),
    [
        ("", "blank"),
        ("/relative", "absolute URI"),
        ("shopping.api", "absolute URI"),
        ("https://", "absolute URI"),
        ("https://shopping.api#x", "fragment"),
        ("https://shop ping.api", "spaces"),
        ("https://shopping.api\x00", "control"),
    ],
)
def test_indicator_validation(indicator, message):
    resource = Resource(name="R", indicator=indicator)
    with pytest.raises(ValidationError, match=message):
        resource.full_clean()


@pytest.mark.parametrize("indicator", ["https://shopping.api", "https://api.example.com/v1", "urn:example:api"])
def test_valid_indicators(indicator):
    Resource(name="R", indicator=indicator).full_clean()


# -- scopes --------------------------------------------------------------------------------------------------


def test_scope_name_is_unique_per_resource(shop):
    refused_by_the_database(lambda: Scope.objects.create(resource=shop.resource, name="read:products"))
    other = Resource.objects.create(name="Other", indicator="https://other.api")
    Scope.objects.create(resource=other, name="read:products")


def test_empty_scope_name_is_a_database_constraint(shop):
    refused_by_the_database(lambda: Scope.objects.create(resource=shop.resource, name=""))


@pytest.mark.parametrize("name", ["read products", 'read"x', "read\\x", "caf\u00e9", "tab\t", ""])
def test_scope_names_are_rfc_6749_scope_tokens(shop, name):
    with pytest.raises(ValidationError):
        Scope(resource=shop.resource, name=name).full_clean()


def test_scope_str(shop):
    assert str(shop.read) == "https://shopping.api · read:products"


def test_deleting_a_resource_deletes_its_scopes(shop):
    shop.resource.delete()
    assert Scope.objects.count() == 0
    assert shop.role.scopes.count() == 0


# -- roles ---------------------------------------------------------------------------------------------------


def test_role_name_is_unique(shop):
    refused_by_the_database(lambda: Role.objects.create(name="Shop reader"))


def test_empty_role_name_is_a_database_constraint():
    refused_by_the_database(lambda: Role.objects.create(name=""))


def test_role_type_defaults_to_machine_to_machine(shop):
    assert shop.role.type == RoleType.MACHINE_TO_MACHINE
    assert list(Role.objects.machine_to_machine()) == [shop.role]
    assert str(shop.role) == "Shop reader"


def test_role_type_is_a_database_constraint():
    refused_by_the_database(lambda: Role.objects.create(name="Odd", type="Robot"))


# -- applications and secrets --------------------------------------------------------------------------------


def test_application_record(shop):
    dot = shop.app.application
    assert (dot.client_type, dot.authorization_grant_type) == ("confidential", "client-credentials")
    assert shop.app.pk == dot.pk
    assert shop.app.client_id == dot.client_id
    assert shop.app.name == str(shop.app) == "Order stats"
    assert shop.app.is_enabled is True


def test_enabled_queryset(shop):
    disabled, _ = create_application("Disabled")
    M2MApplication.objects.filter(pk=disabled.pk).update(is_enabled=False)
    assert list(M2MApplication.objects.enabled()) == [shop.app]


def test_deleting_the_dot_application_deletes_the_record_and_secrets(shop):
    add_secret(shop.app, "ci")
    get_application_model().objects.filter(pk=shop.app.pk).delete()
    assert M2MApplication.objects.count() == 0
    assert ApplicationSecret.objects.count() == 0


def test_secret_name_is_unique_per_app(shop):
    add_secret(shop.app, "ci")
    refused_by_the_database(lambda: add_secret(shop.app, "ci"))
    other, _ = create_application("Other")
    add_secret(other, "ci")


def test_empty_secret_name_is_a_database_constraint(shop):
    refused_by_the_database(lambda: ApplicationSecret.objects.create(application=shop.app, name="", secret_hash="x"))


def test_secret_expiry_and_active_queryset(shop):
    now = timezone.now()
    forever, _ = add_secret(shop.app, "forever")
    later, _ = add_secret(shop.app, "later", expires_at=now + timedelta(hours=1))
    gone, _ = add_secret(shop.app, "gone", expires_at=now - timedelta(seconds=1))
    assert (forever.is_expired, later.is_expired, gone.is_expired) == (False, False, True)
    assert set(ApplicationSecret.objects.active()) == {forever, later}
    assert set(ApplicationSecret.objects.active(now=now + timedelta(hours=2))) == {forever}
    assert str(forever) == "forever"


def test_reset_default_secret_replaces_the_hash(shop):
    before = get_application_model().objects.get(pk=shop.app.pk).client_secret
    new = reset_default_secret(shop.app)
    after = get_application_model().objects.get(pk=shop.app.pk).client_secret
    assert after != before
    assert after.startswith("logto_m2m_hmac_sha256$")
    assert new not in after


def test_effective_permissions(shop):
    writer = Role.objects.create(name="Writer")
    writer.scopes.add(shop.write, shop.read)
    shop.app.roles.add(writer)
    assert effective_permissions(shop.app) == {shop.resource: ["read:products", "write:products"]}


# -- signing keys --------------------------------------------------------------------------------------------


def test_only_one_current_key():
    key_store.signing_material()
    current = SigningKey.objects.get()

    def duplicate():
        SigningKey.objects.create(
            kid="other", algorithm="ES384", status=KeyStatus.CURRENT, public_jwk={}, private_key_encrypted="x"
        )

    refused_by_the_database(duplicate)
    assert "Current" in str(current)


def test_only_one_next_key():
    key_store.signing_material()
    key_store.rotate(staged=True)
    refused_by_the_database(
        lambda: SigningKey.objects.create(
            kid="other", algorithm="ES384", status=KeyStatus.NEXT, public_jwk={}, private_key_encrypted="x"
        )
    )


@pytest.mark.parametrize(("status", "algorithm"), [("retired", "ES384"), ("previous", "HS256")])
def test_key_status_and_algorithm_are_database_constraints(status, algorithm):
    refused_by_the_database(
        lambda: SigningKey.objects.create(
            kid="k", algorithm=algorithm, status=status, public_jwk={}, private_key_encrypted="x"
        )
    )


def test_kid_is_unique():
    key_store.signing_material()
    kid = SigningKey.objects.get().kid
    refused_by_the_database(
        lambda: SigningKey.objects.create(
            kid=kid, algorithm="ES384", status=KeyStatus.PREVIOUS, public_jwk={}, private_key_encrypted="x"
        )
    )


# -- token activity ------------------------------------------------------------------------------------------


def test_token_activity_str(shop):
    row = TokenActivity.objects.create(
        application=shop.app, client_id=shop.client_id, outcome=Outcome.SUCCESS, status_code=200
    )
    assert shop.client_id in str(row)
    assert "success" in str(row)
