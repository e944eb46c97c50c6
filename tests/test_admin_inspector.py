"""The token inspector: header, claims and a check-by-check verdict; the token is never kept."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

import jwt
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session

from logto_m2m_django import tokens
from logto_m2m_django.keys import key_store
from tests.admin_support import ADMIN, staff_user

pytestmark = pytest.mark.django_db

URL = f"{ADMIN}/tokenactivity/inspect/"


def checks(page: str) -> dict[str, str]:
    """Check name -> pass / fail / not checked, as the table shows them."""
    import re

    rows = re.findall(r'<tr class="m2m-check-(\w+)"><td>([^<]+)</td>', page)
    return {name: status for status, name in rows}


def inspect(client, token, audience="", required_scopes=""):
    response = client.post(URL, {"token": token, "audience": audience, "required_scopes": required_scopes})
    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]
    return response.content.decode()


def test_get_shows_the_form_with_known_audiences(admin_client, shop):
    page = admin_client.get(URL).content.decode()
    assert 'name="token"' in page
    assert '<option value="https://shopping.api">' in page


def test_valid_token_passes_every_check(admin_client, access_token):
    page = inspect(admin_client, access_token, "https://shopping.api", "read:products")
    assert checks(page) == {
        "Format": "ok",
        "typ": "ok",
        "Signature and key": "ok",
        "iss": "ok",
        "aud": "ok",
        "Lifetime": "ok",
        "Required claims": "ok",
        "Scopes": "ok",
    }
    assert "Accepted by a view of https://shopping.api" in page
    assert "&quot;alg&quot;: &quot;ES384&quot;" in page  # the header
    assert "&quot;scope&quot;: &quot;read:products&quot;" in page  # the claims
    assert "Order stats" in page  # the calling app
    assert "(Current)" in page


def test_missing_scope_gives_the_403_verdict(admin_client, access_token):
    page = inspect(admin_client, access_token, "https://shopping.api", "read:products write:products")
    assert checks(page)["Scopes"] == "fail"
    assert "Refused with 403 insufficient_scope: the token lacks write:products" in page


def test_wrong_audience_gives_the_401_verdict(admin_client, access_token):
    page = inspect(admin_client, access_token, "https://billing.api")
    assert checks(page)["aud"] == "fail"
    assert "Refused with 401 invalid_token: The token is not meant for this API (aud)." in page


def test_unchecked_parts_say_so(admin_client, access_token):
    page = inspect(admin_client, access_token)
    assert checks(page)["aud"] == "skip" and checks(page)["Scopes"] == "skip"


def _sign(claims, header_typ="at+jwt"):
    material = key_store.signing_material()
    return jwt.encode(
        claims, material.private_key, algorithm=material.algorithm, headers={"typ": header_typ, "kid": material.kid}
    )


def _claims(**overrides):
    now = int(time.time())
    claims = tokens.build_claims(
        issuer="https://auth.example.com/oidc",
        client_id="abc",
        audience="https://shopping.api",
        scopes=["read:products"],
        lifetime=3600,
        now=now,
    )
    claims.update(overrides)
    return claims


def test_expired_token_fails_lifetime(admin_client, db):
    now = int(time.time())
    page = inspect(admin_client, _sign(_claims(iat=now - 7200, exp=now - 3600)))
    assert checks(page)["Lifetime"] == "fail"
    assert "Expired" in page and "The token has expired." in page


def test_wrong_type_and_issuer_fail(admin_client, db):
    page = inspect(admin_client, _sign(_claims(iss="https://elsewhere/oidc"), header_typ="JWT"))
    assert checks(page)["typ"] == "fail" and checks(page)["iss"] == "fail"
    assert "Refused with 401 invalid_token" in page


def test_altered_token_fails_the_signature(admin_client, access_token):
    header, payload, signature = access_token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    page = inspect(admin_client, f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}")
    assert checks(page)["Signature and key"] == "fail"


def test_garbage_is_a_format_failure_not_an_error(admin_client, db):
    page = inspect(admin_client, "not a token")
    assert checks(page) == {"Format": "fail"}
    page = inspect(admin_client, "eyJhbGciOiJFUzM4NCJ9.%%%.x")
    assert "Refused with 401 invalid_token" in page


def test_the_token_is_not_kept_anywhere(admin_client, access_token, caplog):
    with caplog.at_level(logging.DEBUG):
        inspect(admin_client, access_token, "https://shopping.api")
    assert access_token not in caplog.text
    for session in Session.objects.all():
        assert access_token not in str(session.get_decoded())
    assert not LogEntry.objects.exists()


def test_staff_only(client, admin_client, access_token, db):
    anonymous = client.post(URL, {"token": access_token})
    assert anonymous.status_code == HTTPStatus.FOUND and "/login/" in anonymous["Location"]
    staff = staff_user("nobody-special")
    client.force_login(staff)
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN  # staff without the permission
    client.force_login(staff_user("inspector", "use_token_inspector"))
    assert client.get(URL).status_code == HTTPStatus.OK


# -- organization tokens -------------------------------------------------------------------------------------


def test_an_organization_token_is_explained(admin_client, db):
    from logto_m2m_django.models import Organization

    acme = Organization.objects.create(name="Acme")
    token = _sign(_claims(aud=f"urn:logto:organization:{acme.pk}", scope="read:members"))
    page = inspect(admin_client, token)
    assert checks(page)["Organization"] == "ok"
    assert "An organization token of Acme" in page and acme.pk in page
    assert "HasOrganization" in page and "HasOrganizationResource" not in page


def test_an_organization_level_api_resource_token_is_explained(admin_client, db):
    token = _sign(_claims(organization_id="org-gone"))
    page = inspect(admin_client, token, "https://shopping.api")
    assert checks(page)["Organization"] == "ok"
    assert "An organization-level API resource token of https://shopping.api" in page
    assert "org-gone (no such organization here)" in page
    assert "HasOrganizationResource" in page


def test_a_token_with_both_organization_marks_is_flagged(admin_client, db):
    token = _sign(_claims(aud="urn:logto:organization:org-acme", organization_id="org-acme"))
    page = inspect(admin_client, token)
    assert checks(page)["Organization"] == "fail"
    assert "no Logto token has both" in page


def test_an_organization_token_for_the_management_api_is_refused(admin_client, db):
    token = _sign(_claims(aud="https://default.logto.app/api", organization_id="org-acme", scope="all"))
    page = inspect(admin_client, token, "https://default.logto.app/api")
    assert checks(page)["Organization"] == "fail"
    assert "Refused with 401 invalid_token: The Management API does not accept organization tokens." in page


def test_a_plain_token_has_no_organization_row(admin_client, access_token):
    assert "Organization" not in checks(inspect(admin_client, access_token))
