"""The token inspector: why would a protected view accept or refuse this access token?

A staff user pastes a token; the page shows its header and claims and checks
it the way the DRF authentication class does, one check at a time, against
this project's key store and settings. The token travels in the POST body
only: it is not stored, not put in the session or a message, and Django's
error reports hide it (``sensitive_post_parameters``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt
from django import forms
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from .. import tokens
from ..conf import m2m_settings
from ..keys import key_store
from ..models import M2MApplication, Resource, SigningKey
from ._common import admin_change_url, template
from .claims_preview import Preview, token_preview
from .organizations import organization_token_note

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"


class InspectorForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Access token"),
        widget=forms.Textarea(attrs={"rows": 6, "cols": 100, "autocomplete": "off", "spellcheck": "false"}),
    )
    audience = forms.CharField(
        label=gettext_lazy("API identifier (audience)"),
        required=False,
        max_length=256,
        help_text=gettext_lazy("The API the token is sent to. Empty: the audience is not checked."),
        widget=forms.TextInput(attrs={"size": 60, "list": "m2m-resources", "autocomplete": "off"}),
    )
    required_scopes = forms.CharField(
        label=gettext_lazy("Scopes the view requires"),
        required=False,
        max_length=2048,
        help_text=gettext_lazy("Space-separated, e.g. “read:products”. Empty: scopes are not checked."),
        widget=forms.TextInput(attrs={"size": 60, "autocomplete": "off"}),
    )


@dataclass
class Check:
    name: str
    status: str
    detail: str


@dataclass
class Report:
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: str = ""
    verdict_status: str = FAIL
    application: M2MApplication | None = None
    times: list[tuple[str, str]] = field(default_factory=list)
    #: What the custom claims hook would add for this token's application now (a dry run).
    custom_claims: Preview | None = None

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    @property
    def header_json(self) -> str:
        return json.dumps(self.header, indent=2, ensure_ascii=False) if self.header is not None else ""

    @property
    def claims_json(self) -> str:
        return json.dumps(self.claims, indent=2, ensure_ascii=False) if self.claims is not None else ""


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def inspect_token(token: str, audience: str, required_scopes: list[str]) -> Report:
    report = Report()
    issuer = m2m_settings.ISSUER or ""
    try:
        header = tokens.read_header(token, m2m_settings.MAX_TOKEN_LENGTH)
    except tokens.TokenError as exc:
        report.add(_("Format"), FAIL, exc.description)
        report.verdict = _("Refused with 401 invalid_token: %(why)s") % {"why": exc.description}
        return report
    report.header = header
    report.add(_("Format"), OK, _("A JWS in compact serialization (%(n)d characters).") % {"n": len(token)})
    try:
        tokens.check_payload_depth(token)
    except tokens.TokenError as exc:
        report.add(_("Claims"), FAIL, exc.description)
        report.verdict = _("Refused with 401 invalid_token: %(why)s") % {"why": exc.description}
        return report
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, RecursionError):
        report.add(_("Claims"), FAIL, _("The payload is not a base64url-encoded JSON object."))
        report.verdict = _("Refused with 401 invalid_token: the token is malformed.")
        return report
    report.claims = claims
    _check_type(report, header)
    _check_key(report, token, header)
    _check_issuer(report, claims, issuer)
    _check_audience(report, claims, audience)
    _check_lifetime(report, claims)
    _check_required_claims(report, claims)
    missing = _check_scopes(report, claims, required_scopes)
    organization = organization_token_note(claims, _audiences(claims))
    if organization is not None:
        report.add(_("Organization"), OK if organization[0] else FAIL, organization[1])
    client_id = claims.get("client_id")
    if isinstance(client_id, str) and client_id:
        report.application = (
            M2MApplication.objects.select_related("application").filter(application__client_id=client_id).first()
        )
    report.custom_claims = token_preview(claims, report.application)
    # The verdict is the real validation code's, not a summary of the checks above.
    auds = _audiences(claims)
    try:
        tokens.verify(
            token,
            key_store.find,
            issuer=issuer,
            audience=audience or (auds[0] if auds else ""),
            algorithms=m2m_settings.ACCEPTED_ALGORITHMS,
            leeway=m2m_settings.LEEWAY,
            max_length=m2m_settings.MAX_TOKEN_LENGTH,
        )
    except tokens.TokenError as exc:
        report.verdict = _("Refused with 401 invalid_token: %(why)s") % {"why": exc.description}
        return report
    verified_for = audience or (auds[0] if auds else "")
    if organization is not None and verified_for == m2m_settings.MANAGEMENT_API_INDICATOR:
        report.verdict = _("Refused with 401 invalid_token: %(why)s") % {"why": organization[1]}
        return report
    if missing:
        report.verdict = _("Refused with 403 insufficient_scope: the token lacks %(scopes)s.") % {
            "scopes": " ".join(missing)
        }
        return report
    report.verdict_status = OK
    if audience:
        report.verdict = _("Accepted by a view of %(aud)s.") % {"aud": audience}
    else:
        report.verdict = _("Accepted by a view of %(aud)s (the audience the token names; enter one to check it).") % {
            "aud": auds[0] if auds else "?"
        }
    return report


def _check_type(report: Report, header: dict[str, Any]) -> None:
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt"):
        report.add("typ", OK, _("“%(typ)s”: an RFC 9068 access token.") % {"typ": typ})
    else:
        report.add("typ", FAIL, _("“%(typ)s”, but an access token must have typ “at+jwt”.") % {"typ": typ})


def _check_key(report: Report, token: str, header: dict[str, Any]) -> None:
    name = _("Signature and key")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in m2m_settings.ACCEPTED_ALGORITHMS:
        report.add(name, FAIL, _("The algorithm “%(alg)s” is not accepted.") % {"alg": alg})
        return
    if not isinstance(kid, str) or not kid:
        report.add(name, FAIL, _("The header names no key (kid)."))
        return
    key = key_store.find(kid)
    if key is None:
        report.add(name, FAIL, _("Key %(kid)s is not one of this project's signing keys.") % {"kid": kid})
        return
    if key.algorithm != alg:
        report.add(
            name,
            FAIL,
            _("The header says %(alg)s but key %(kid)s is %(key_alg)s.")
            % {"alg": alg, "kid": kid, "key_alg": key.algorithm},
        )
        return
    try:
        jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError:
        report.add(name, FAIL, _("The signature does not match key %(kid)s: the token was altered.") % {"kid": kid})
        return
    row = SigningKey.objects.filter(kid=kid).only("status").first()
    status = row.get_status_display() if row is not None else _("unknown")
    report.add(
        name, OK, _("Valid %(alg)s signature by key %(kid)s (%(status)s).") % {"alg": alg, "kid": kid, "status": status}
    )


def _check_issuer(report: Report, claims: dict[str, Any], issuer: str) -> None:
    iss = claims.get("iss")
    if iss == issuer:
        report.add("iss", OK, _("Issued by this server (%(iss)s).") % {"iss": iss})
    else:
        report.add("iss", FAIL, _("Issued by “%(iss)s”; this server is “%(issuer)s”.") % {"iss": iss, "issuer": issuer})


def _check_audience(report: Report, claims: dict[str, Any], audience: str) -> None:
    auds = _audiences(claims)
    shown = ", ".join(auds) or _("none")
    if not audience:
        report.add("aud", SKIP, _("The token is for %(aud)s; enter the API identifier to check it.") % {"aud": shown})
    elif audience in auds:
        report.add("aud", OK, _("Meant for %(aud)s.") % {"aud": audience})
    else:
        report.add("aud", FAIL, _("Meant for %(aud)s, not for %(expected)s.") % {"aud": shown, "expected": audience})


def _check_lifetime(report: Report, claims: dict[str, Any]) -> None:
    name = _("Lifetime")
    now = time.time()
    leeway = m2m_settings.LEEWAY
    exp, iat, nbf = _when(claims.get("exp")), _when(claims.get("iat")), _when(claims.get("nbf"))
    for label, moment in (("iat", iat), ("nbf", nbf), ("exp", exp)):
        if moment is not None:
            report.times.append((label, moment.isoformat()))
    if exp is None:
        report.add(name, FAIL, _("The token has no usable exp claim."))
        return
    if exp.timestamp() + leeway <= now:
        report.add(name, FAIL, _("Expired %(ago)s ago (%(when)s).") % {"ago": timesince(exp), "when": exp.isoformat()})
        return
    for label, moment in (("iat", iat), ("nbf", nbf)):
        if moment is not None and moment.timestamp() - leeway > now:
            report.add(
                name,
                FAIL,
                _("%(claim)s is in the future (%(when)s): check the clocks.")
                % {"claim": label, "when": moment.isoformat()},
            )
            return
    report.add(
        name, OK, _("Valid for %(left)s more (until %(when)s).") % {"left": timeuntil(exp), "when": exp.isoformat()}
    )


def _check_required_claims(report: Report, claims: dict[str, Any]) -> None:
    missing = [name for name in tokens.REQUIRED_CLAIMS if name not in claims]
    if missing:
        report.add(_("Required claims"), FAIL, _("Missing: %(names)s.") % {"names": ", ".join(missing)})
    else:
        report.add(_("Required claims"), OK, ", ".join(tokens.REQUIRED_CLAIMS))


def _check_scopes(report: Report, claims: dict[str, Any], required: list[str]) -> list[str]:
    scope = claims.get("scope")
    granted = scope.split() if isinstance(scope, str) else []
    shown = " ".join(granted) or _("none")
    if not required:
        report.add(_("Scopes"), SKIP, _("Granted: %(scopes)s. Enter a requirement to check it.") % {"scopes": shown})
        return []
    missing = [s for s in required if s not in granted]
    if missing:
        report.add(
            _("Scopes"),
            FAIL,
            _("Missing %(missing)s (granted: %(granted)s).") % {"missing": " ".join(missing), "granted": shown},
        )
    else:
        report.add(_("Scopes"), OK, _("Granted: %(scopes)s.") % {"scopes": shown})
    return missing


@sensitive_post_parameters("token")
def inspector_view(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    report = None
    if request.method == "POST":
        form = InspectorForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            report = inspect_token(data["token"], data["audience"].strip(), data["required_scopes"].split())
    else:
        form = InspectorForm()
    context = {
        **admin_context,
        "title": _("Token inspector"),
        "form": form,
        "report": report,
        "resources": Resource.objects.order_by("name").values_list("indicator", "name"),
        "application_url": admin_change_url(report.application) if report and report.application else None,
    }
    response = TemplateResponse(request, template("token_inspector.html"), context)
    add_never_cache_headers(response)
    return response
