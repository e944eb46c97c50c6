"""The caller of a protected view: an M2M application, not a database user."""

from __future__ import annotations

from typing import Any


class M2MPrincipal:
    """``request.user`` for a request authenticated by an access token.

    It is authenticated (DRF's ``IsAuthenticated`` passes) but has no database
    row, no Django permissions and no staff rights.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    __slots__ = ("audience", "claims", "client_id", "scopes")

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.client_id: str = claims["client_id"]
        scope = claims.get("scope") or ""
        self.scopes: frozenset[str] = frozenset(scope.split())
        aud = claims["aud"]
        self.audience: tuple[str, ...] = tuple(aud) if isinstance(aud, list) else (aud,)

    @property
    def username(self) -> str:
        return self.client_id

    def get_username(self) -> str:
        return self.client_id

    def has_scope(self, *scopes: str) -> bool:
        return all(s in self.scopes for s in scopes)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return f"M2M application {self.client_id}"

    def __repr__(self) -> str:
        return f"<M2MPrincipal client_id={self.client_id!r} scopes={sorted(self.scopes)!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, M2MPrincipal) and other.claims == self.claims

    def __hash__(self) -> int:
        return hash((self.client_id, self.claims.get("jti")))
