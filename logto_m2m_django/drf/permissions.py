"""Scope checks for views protected by M2M access tokens (RFC 6750 §3.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..conf import m2m_settings
from .composition import Outcome, ScopePermissionMetaclass, combine, evaluate, reached_through_and_only
from .principal import M2MPrincipal

ScopeSpec = str | Sequence[str] | Mapping[str, Sequence[str]]
_MISSING_ATTR = "_logto_m2m_missing_scopes"


class InsufficientScope(exceptions.PermissionDenied):
    """403 with ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``."""

    default_code = "insufficient_scope"

    def __init__(self, missing: Iterable[str]) -> None:
        missing = list(missing)
        super().__init__(f"The token lacks the required scope: {' '.join(missing)}.")
        self.auth_header = challenge(missing)


def challenge(missing: Iterable[str]) -> str:
    return (
        f'Bearer realm="{m2m_settings.REALM}", error="insufficient_scope", '
        f'error_description="The access token lacks a required scope.", scope="{" ".join(missing)}"'
    )


def _normalise(spec: ScopeSpec) -> tuple[str, ...] | dict[str, tuple[str, ...]]:
    if isinstance(spec, str):
        return tuple(spec.split())
    if isinstance(spec, Mapping):
        return {method.upper(): tuple(scopes) for method, scopes in spec.items()}
    return tuple(spec)


def _scopes_for(spec: tuple[str, ...] | dict[str, tuple[str, ...]], method: str) -> tuple[str, ...] | None:
    if isinstance(spec, tuple):
        return spec
    if method in spec:
        return spec[method]
    if method == "HEAD" and "GET" in spec:
        return spec["GET"]
    return None  # a method the view does not list is denied


class _ScopePermission(BasePermission, metaclass=ScopePermissionMetaclass):
    code = "insufficient_scope"
    message = "The access token lacks a required scope."
    method_message = "This HTTP method is not available to access tokens on this view."

    def required(self, request: Request, view: Any) -> tuple[str, ...] | None:
        raise NotImplementedError

    def outcome(self, request: Request, view: Any) -> Outcome:
        user = request.user
        if not isinstance(user, M2MPrincipal):
            # No token: DRF answers 401 with the bare Bearer challenge.
            return Outcome(False, None, applicable=False)
        required = self.required(request, view)
        if required is None:
            # A method the view's scope map does not list: no scope grants it, so a plain 403
            # without an insufficient_scope challenge (RFC 6750 §3.1 would send the client for
            # a new token that could not help either).
            return Outcome(False, None, True, self.method_message)
        missing = tuple(s for s in required if s not in user.scopes)
        if not missing:
            return Outcome(True)
        return Outcome(False, missing, True, self.message)

    def has_permission(self, request: Request, view: Any) -> bool:
        result = self.outcome(request, view)
        if result.allowed:
            return True
        django_request = getattr(request, "_request", request)
        if result.challenge:
            if self._decides(view):
                # RFC 6750 §3.1: 403 with the insufficient_scope challenge naming the scopes.
                raise InsufficientScope(result.challenge)
            # Inside one of DRF's own operators: logto_m2m_django.drf.exception_handler
            # adds the challenge to the final 403.
            setattr(django_request, _MISSING_ATTR, list(result.challenge))
        elif hasattr(django_request, _MISSING_ATTR):
            delattr(django_request, _MISSING_ATTR)
        if result.message:
            self.message = result.message  # what DRF's 403 says
        return False

    def _decides(self, view: Any) -> bool:
        """True when this permission's denial is the view's: listed on its own, or under DRF's ``&`` only."""
        listed = getattr(view, "permission_classes", ())
        return type(self) in listed or any(reached_through_and_only(entry, type(self)) for entry in listed)


class ScopeComposition(_ScopePermission):
    """``&``, ``|`` or ``~`` over permissions of which at least one is a scope permission
    (built by :func:`~logto_m2m_django.drf.composition.compose`)."""

    operator: str = "and"
    operands: tuple[Any, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._operands = [operand(*args, **kwargs) for operand in self.operands]

    def outcome(self, request: Request, view: Any) -> Outcome:
        return combine(self.operator, self._operands, request, view)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        ops = self._operands
        if self.operator == "not":
            return not ops[0].has_object_permission(request, view, obj)
        if self.operator == "and":
            return all(op.has_object_permission(request, view, obj) for op in ops)
        # As DRF's OR: an alternative grants the object only if it granted the request.
        return any(evaluate(op, request, view).allowed and op.has_object_permission(request, view, obj) for op in ops)


_ScopePermission.composition_class = ScopeComposition


class RequiredScopes(_ScopePermission):
    """Checks the scopes a view declares.

    ``required_scopes = ["read:products"]`` for every method, or
    ``required_scopes_by_method = {"GET": [...], "POST": [...]}`` (HEAD follows
    GET; an unlisted method is refused).
    """

    def required(self, request: Request, view: Any) -> tuple[str, ...] | None:
        by_method = getattr(view, "required_scopes_by_method", None)
        if by_method is not None:
            return _scopes_for(_normalise(by_method), request.method or "GET")
        scopes = getattr(view, "required_scopes", None)
        if scopes is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} uses RequiredScopes but declares neither `required_scopes` "
                "nor `required_scopes_by_method`."
            )
        return _scopes_for(_normalise(scopes), request.method or "GET")


def HasScope(*scopes: ScopeSpec) -> type[BasePermission]:  # noqa: N802 - a class factory reads like a class
    """A permission class requiring scopes: ``HasScope("read:products")``,
    ``HasScope("a", "b")``, ``HasScope(["a", "b"])`` or ``HasScope({"GET": ["a"], "POST": ["b"]})``.
    Composes with DRF's ``&``, ``|`` and ``~``."""
    if len(scopes) == 1 and isinstance(scopes[0], Mapping):
        spec = _normalise(scopes[0])
    else:
        flat: list[str] = []
        for item in scopes:
            flat.extend(_normalise(item))  # type: ignore[arg-type]
        spec = tuple(flat)
    if not spec:
        raise ImproperlyConfigured("HasScope() needs at least one scope.")

    class _HasScope(_ScopePermission):
        def required(self, request: Request, view: Any) -> tuple[str, ...] | None:
            return _scopes_for(spec, request.method or "GET")

    _HasScope.__name__ = _HasScope.__qualname__ = f"HasScope({spec!r})"
    return _HasScope


def missing_scopes(request: Any) -> list[str] | None:
    """The scopes a scope permission found missing on this request, if any."""
    django_request = getattr(request, "_request", request)
    return getattr(django_request, _MISSING_ATTR, None)
