"""LOGTO_M2M["CUSTOM_CLAIMS"]: Logto's custom JWT for client credentials, through POST /oidc/token."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings

from logto_m2m_django.claims import hook as claims_hook
from logto_m2m_django.models import Outcome, Role, RoleType, TokenActivity
from tests.conftest import SHOP, cold_grant_cache
from tests.test_oauth_token import assert_error, decode, grant, post

pytestmark = pytest.mark.django_db

#: What each hook below received, for the assertions.
SEEN: list[dict[str, Any]] = []


def tenant_hook(*, token, context, environment_variables, api):
    """The README's example: the tenant and plan from the application's customData."""
    SEEN.append({"token": token, "context": context, "environment_variables": environment_variables, "api": api})
    data = context["application"]["customData"]
    return {"tenant_id": data.get("tenantId"), "plan": data.get("plan", "free"), "env": environment_variables["STAGE"]}


def raising_hook(**kwargs):
    raise RuntimeError("plan service unreachable")


def non_dict_hook(**kwargs):
    return ["tenant", "acme"]


def overwriting_hook(**kwargs):
    return {
        "sub": "admin",
        "iss": "https://evil.example",
        "aud": "https://everything",
        "client_id": "admin",
        "scope": "all",
        "exp": 9999999999,
        "iat": 0,
        "nbf": 0,
        "jti": "fixed",
        "organization_id": "org-1",
        "tenant_id": "acme",
    }


def denying_hook(*, token, context, api, **kwargs):
    if context["application"]["customData"].get("suspended"):
        api.deny_access("The tenant is suspended.")
    return {"tenant_id": "acme"}


def logto_spelling_hook(*, api, **kwargs):
    api.denyAccess()


def too_large_hook(**kwargs):
    return {"blob": "x" * 5000}


def not_json_hook(**kwargs):
    return {"tags": {"a", "b"}}


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


def slow_hook(**kwargs):
    CLOCK.now += 2.5  # the hook "takes" 2.5 s on the injected clock
    return {"tenant_id": "acme"}


def legacy_raising_hook(claims, context):
    raise KeyError("tenant")


def hooked(hook: Any, **extra: Any) -> Any:
    return override_settings(
        LOGTO_M2M={
            **settings.LOGTO_M2M,
            "CUSTOM_CLAIMS": hook,
            "CUSTOM_CLAIMS_ENVIRONMENT": {"STAGE": "test"},
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def _reset() -> Any:
    SEEN.clear()
    yield
    SEEN.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    monkeypatch.setattr(claims_hook, "_clock", CLOCK)
    return CLOCK


@pytest.fixture
def tenant(shop):
    shop.app.custom_data = {"tenantId": "acme", "plan": "pro"}
    shop.app.description = "Nightly order statistics"
    shop.app.save()
    return shop


def issue(api_client, shop, **params):
    response = post(api_client, grant(**params), auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    return decode(api_client, response.json()["access_token"])[1]


def last_activity() -> TokenActivity:
    return TokenActivity.objects.order_by("-pk").first()  # type: ignore[return-value]


# -- the hook's arguments and its claims --------------------------------------------------


def test_hook_adds_claims_from_the_application_custom_data(tenant, api_client):
    with hooked("tests.test_custom_claims.tenant_hook"):
        claims = issue(api_client, tenant, scope="read:products")
    assert claims["tenant_id"] == "acme"
    assert claims["plan"] == "pro"
    assert claims["env"] == "test"
    assert claims["sub"] == tenant.client_id and claims["scope"] == "read:products"
    row = last_activity()
    assert row.outcome == Outcome.SUCCESS and row.error == ""


def test_hook_receives_logto_shaped_token_context_and_environment(tenant, api_client):
    Role.objects.create(name="A user role", description="not M2M", type=RoleType.USER)
    other = Role.objects.create(name="Auditor", description="Audits")
    tenant.app.roles.add(other)
    with hooked(tenant_hook):
        claims = issue(api_client, tenant, scope="read:products write:products")
    (seen,) = SEEN
    assert seen["token"] == {
        "jti": claims["jti"],
        "aud": SHOP,
        "scope": "read:products",
        "clientId": tenant.client_id,
        "kind": "ClientCredentials",
    }
    assert seen["context"] == {
        "application": {
            "id": tenant.client_id,
            "name": "Order stats",
            "description": "Nightly order statistics",
            "type": "MachineToMachine",
            "customData": {"tenantId": "acme", "plan": "pro"},
            "roles": [{"id": other.id, "name": "Auditor"}, {"id": tenant.role.id, "name": "Shop reader"}],
        }
    }
    assert tenant.secret not in repr(seen)  # never a secret
    assert dict(seen["environment_variables"]) == {"STAGE": "test"}
    with pytest.raises(TypeError):
        seen["environment_variables"]["STAGE"] = "prod"  # read-only
    assert seen["api"].dry_run is False


def test_scopeless_token_has_no_scope_in_the_hook_payload(tenant, api_client):
    with hooked(tenant_hook):
        issue(api_client, tenant)
    assert "scope" not in SEEN[0]["token"]
    assert SEEN[0]["context"]["application"]["description"] == "Nightly order statistics"


def test_the_hook_does_not_change_the_sql_budget(no_activity_log, tenant, api_client, django_assert_num_queries):
    """DESIGN §8: two reads with a hook configured too (the context comes with the client query)."""
    with hooked(tenant_hook):
        issue(api_client, tenant)  # compiles the query
        cold_grant_cache()
        with django_assert_num_queries(2):
            claims = issue(api_client, tenant)
        with django_assert_num_queries(0):  # from the grant cache, context included
            again = issue(api_client, tenant)
    assert {k: v for k, v in again.items() if k != "jti"} == {k: v for k, v in claims.items() if k != "jti"}
    assert claims["tenant_id"] == "acme"
    assert SEEN[-1]["context"]["application"]["roles"] == [{"id": tenant.role.id, "name": "Shop reader"}]


def test_an_application_without_roles_gets_an_empty_role_list(tenant, api_client):
    tenant.app.roles.clear()
    with hooked(tenant_hook):
        issue(api_client, tenant)
    assert SEEN[0]["context"]["application"]["roles"] == []


@pytest.fixture
def no_activity_log():
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "TOKEN_ACTIVITY_LOG": False}):
        yield


# -- safe by construction -------------------------------------------------------------------


def test_reserved_claims_cannot_be_overwritten(tenant, api_client, caplog):
    with hooked(overwriting_hook), caplog.at_level(logging.WARNING, "logto_m2m_django.claims"):
        claims = issue(api_client, tenant, scope="read:products")
    assert claims["sub"] == claims["client_id"] == tenant.client_id
    assert claims["iss"] == "https://auth.example.com/oidc"
    assert claims["aud"] == SHOP
    assert claims["scope"] == "read:products"
    assert claims["exp"] == claims["iat"] + 3600 and claims["iat"] > 0
    assert claims["jti"] != "fixed"
    assert "nbf" not in claims and "organization_id" not in claims
    assert claims["tenant_id"] == "acme"  # the rest of the result is kept
    assert "reserved claims dropped" in caplog.text and "sub" in caplog.text
    assert last_activity().error == "custom_claims:reserved"


@pytest.mark.parametrize(
    ("hook", "reason"),
    [
        (raising_hook, "exception"),
        (non_dict_hook, "not_an_object"),
        (too_large_hook, "too_large"),
        (not_json_hook, "not_json"),
        ("tests.test_custom_claims.no_such_hook", "import"),
    ],
)
def test_a_failing_hook_issues_the_token_without_custom_claims(tenant, api_client, caplog, hook, reason):
    with hooked(hook), caplog.at_level(logging.WARNING, "logto_m2m_django.claims"):
        response = post(api_client, grant(scope="read:products"), auth=tenant.basic())
        assert response.status_code == HTTPStatus.OK, response.content
        claims = decode(api_client, response.json()["access_token"])[1]
    assert set(claims) == {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"}
    assert "token issued without custom claims" in caplog.text
    row = last_activity()
    assert row.outcome == Outcome.SUCCESS
    assert row.error == f"custom_claims:{reason}"  # the activity row says so


def test_the_warning_carries_the_hook_traceback(tenant, api_client, caplog):
    with hooked(raising_hook), caplog.at_level(logging.WARNING, "logto_m2m_django.claims"):
        issue(api_client, tenant)
    (record,) = [r for r in caplog.records if r.name == "logto_m2m_django.claims"]
    assert record.exc_info is not None and "plan service unreachable" in caplog.text


@pytest.mark.parametrize(
    ("hook", "reason", "description"),
    [
        (raising_hook, "exception", "Custom claims script error: the hook raised an error."),
        (non_dict_hook, "not_an_object", "Custom claims script error: the hook did not return an object."),
        (too_large_hook, "too_large", "Custom claims script error: the hook's claims are too large."),
    ],
)
def test_block_on_error_refuses_with_a_json_invalid_request(tenant, api_client, hook, reason, description):
    with hooked(hook, CUSTOM_CLAIMS_BLOCK_ON_ERROR=True):
        response = post(api_client, grant(), auth=tenant.basic())
    body = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request", description)
    assert "plan service unreachable" not in body["error_description"]  # details go to the log only
    row = last_activity()
    assert row.outcome == Outcome.FAILURE and row.error == f"custom_claims:{reason}"


def test_block_on_error_still_issues_when_the_hook_only_sets_reserved_claims(tenant, api_client):
    with hooked(overwriting_hook, CUSTOM_CLAIMS_BLOCK_ON_ERROR=True):
        claims = issue(api_client, tenant)
    assert claims["sub"] == tenant.client_id and claims["tenant_id"] == "acme"


def test_deny_access_refuses_the_request_with_access_denied(tenant, api_client):
    tenant.app.custom_data = {"suspended": True}
    tenant.app.save()
    with hooked(denying_hook):
        response = post(api_client, grant(), auth=tenant.basic())
    # Logto: api.denyAccess() -> oidc-provider's AccessDenied, 400 access_denied (RFC 6749 §5.2).
    assert_error(response, HTTPStatus.BAD_REQUEST, "access_denied", "The tenant is suspended.")
    row = last_activity()
    assert row.outcome == Outcome.FAILURE and row.error == "access_denied"


def test_deny_access_is_not_a_failure_of_the_hook_when_not_called(tenant, api_client):
    with hooked(denying_hook):
        assert issue(api_client, tenant)["tenant_id"] == "acme"


def test_deny_access_with_logto_spelling_and_no_message(tenant, api_client):
    with hooked(logto_spelling_hook, CUSTOM_CLAIMS_BLOCK_ON_ERROR=False):
        response = post(api_client, grant(), auth=tenant.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "access_denied", "Access denied by the custom claims hook.")


def test_a_slow_hook_is_a_failure_its_claims_are_dropped(tenant, api_client, clock, caplog):
    """Documented: the request waits for the hook (Python can't stop it), then drops a late result."""
    with hooked(slow_hook, CUSTOM_CLAIMS_TIMEOUT=2), caplog.at_level(logging.WARNING, "logto_m2m_django.claims"):
        claims = issue(api_client, tenant)
    assert "tenant_id" not in claims
    assert "took 2.500 s; the limit is 2 s" in caplog.text
    assert last_activity().error == "custom_claims:timeout"


def test_a_hook_within_the_time_limit_keeps_its_claims(tenant, api_client, clock):
    with hooked(slow_hook, CUSTOM_CLAIMS_TIMEOUT=3):
        assert issue(api_client, tenant)["tenant_id"] == "acme"


def test_a_slow_hook_with_block_on_error_is_refused(tenant, api_client, clock):
    with hooked(slow_hook, CUSTOM_CLAIMS_TIMEOUT=1, CUSTOM_CLAIMS_BLOCK_ON_ERROR=True):
        response = post(api_client, grant(), auth=tenant.basic())
    description = "Custom claims script error: the hook took too long."
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request", description)


def test_size_limit_follows_the_setting(tenant, api_client):
    with hooked(too_large_hook, CUSTOM_CLAIMS_MAX_BYTES=6000):
        assert len(issue(api_client, tenant)["blob"]) == 5000


def test_the_hook_is_not_called_for_a_refused_request(tenant, api_client):
    with hooked(tenant_hook):
        response = post(api_client, grant(), auth=tenant.basic(secret="wrong"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert SEEN == []


# -- the deprecated EXTRA_CLAIMS alias ------------------------------------------------------


def test_a_raising_extra_claims_hook_no_longer_crashes_the_token_request(tenant, api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "EXTRA_CLAIMS": legacy_raising_hook}):
        claims = issue(api_client, tenant)
    assert "tenant" not in claims
    assert last_activity().error == "custom_claims:exception"


def test_extra_claims_gets_the_reserved_claim_protection_too(tenant, api_client):
    def legacy(claims, context):
        return {"nbf": 0, "organization_id": "x", "team": "ops"}

    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "EXTRA_CLAIMS": legacy}):
        claims = issue(api_client, tenant)
    assert claims["team"] == "ops" and "nbf" not in claims and "organization_id" not in claims


# -- system checks ----------------------------------------------------------------------------


def check_ids(**m2m: Any) -> list[str]:
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, **m2m}):
        return [m.id for m in checks.run_checks() if m.id and m.id.startswith("logto_m2m.")]


def test_extra_claims_is_deprecated_with_a_system_check_warning():
    assert "logto_m2m.W040" in check_ids(EXTRA_CLAIMS="tests.test_custom_claims.legacy_raising_hook")
    assert "logto_m2m.W040" not in check_ids(CUSTOM_CLAIMS="tests.test_custom_claims.tenant_hook")


def test_both_hooks_set_warns_that_extra_claims_is_ignored(tenant, api_client):
    ids = check_ids(
        CUSTOM_CLAIMS="tests.test_custom_claims.tenant_hook", EXTRA_CLAIMS="tests.test_custom_claims.raising_hook"
    )
    assert "logto_m2m.W041" in ids and "logto_m2m.W040" not in ids
    with hooked(tenant_hook, EXTRA_CLAIMS=raising_hook):
        assert issue(api_client, tenant)["tenant_id"] == "acme"


def test_an_unimportable_hook_is_a_system_check_error():
    assert "logto_m2m.E040" in check_ids(CUSTOM_CLAIMS="tests.test_custom_claims.no_such_hook")
    assert "logto_m2m.E040" in check_ids(CUSTOM_CLAIMS="nodots")
    assert "logto_m2m.E040" in check_ids(EXTRA_CLAIMS=42)
    assert check_ids(CUSTOM_CLAIMS="tests.test_custom_claims.tenant_hook") == []


def test_a_bad_environment_is_a_system_check_error():
    assert "logto_m2m.E041" in check_ids(CUSTOM_CLAIMS_ENVIRONMENT=["STAGE"])
    assert "logto_m2m.E041" in check_ids(CUSTOM_CLAIMS_ENVIRONMENT={1: "x"})


def test_a_claims_limit_beyond_the_token_length_limit_warns():
    hook = "tests.test_custom_claims.tenant_hook"
    assert "logto_m2m.W042" in check_ids(CUSTOM_CLAIMS=hook, CUSTOM_CLAIMS_MAX_BYTES=6000)
    assert "logto_m2m.W042" not in check_ids(CUSTOM_CLAIMS=hook)
