"""``&``, ``|`` and ``~`` for scope permissions, keeping the RFC 6750 §3.1 challenge.

DRF's own operators (``rest_framework.permissions.AND``/``OR``/``NOT``) only return a
boolean, so a composed denial became a bare 403 and the ``insufficient_scope``
challenge was lost (or, added afterwards, named the wrong scopes). When a scope
permission takes part in an operation, the metaclass below builds a
:class:`Composition` instead: a permission class that evaluates the whole expression
once and knows why it failed:

- ``a & b``: the challenge of the first operand that failed;
- ``a | b``: the scopes of every alternative that could still grant access (a
  non-scope alternative such as ``IsAdminUser`` adds none);
- ``~a``: no challenge at all: holding a scope is what denies, and a token with more
  scopes cannot help (the client must not be sent to ask for the forbidden scope).

A scope permission on a request without an M2M token is "not applicable": it denies,
and ``~`` of it denies too (no token is not "a token without the scope").
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rest_framework.permissions import BasePermissionMetaclass, OperandHolder, SingleOperandHolder
from rest_framework.request import Request


class Outcome(NamedTuple):
    allowed: bool
    #: Scopes to name in an ``insufficient_scope`` challenge; None: no scope would help.
    challenge: tuple[str, ...] | None = None
    #: False when a scope permission met a request without an M2M token.
    applicable: bool = True
    message: str | None = None


def evaluate(permission: Any, request: Request, view: Any) -> Outcome:
    """The outcome of one operand: ours say why, any other permission is a plain boolean."""
    if hasattr(permission, "outcome"):
        return permission.outcome(request, view)  # type: ignore[no-any-return]
    allowed = bool(permission.has_permission(request, view))  # type: ignore[union-attr]
    return Outcome(allowed, None, True, None if allowed else getattr(permission, "message", None))


def _merge(first: tuple[str, ...] | None, second: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if first is None:
        return second
    if second is None:
        return first
    return first + tuple(s for s in second if s not in first)


class ScopePermissionMetaclass(BasePermissionMetaclass):
    """DRF's permission metaclass whose operators build a :class:`Composition`.

    It subclasses DRF's, so Python tries its reflected operators first: ``IsAdminUser | HasScope(...)``
    is built here as well as ``HasScope(...) | IsAdminUser``.
    """

    #: The base class of the compositions built (set by the permissions module).
    composition_class: type

    # ``self`` is the permission class.
    def __and__(self, other: Any) -> Any:
        return compose(self.composition_class, "and", self, other)

    def __or__(self, other: Any) -> Any:
        return compose(self.composition_class, "or", self, other)

    def __rand__(self, other: Any) -> Any:
        return compose(self.composition_class, "and", other, self)

    def __ror__(self, other: Any) -> Any:
        return compose(self.composition_class, "or", other, self)

    def __invert__(self) -> Any:
        return compose(self.composition_class, "not", self)


def _label(operand: Any) -> str:
    return str(getattr(operand, "__name__", type(operand).__name__))


def compose(base: type, operator: str, *operands: Any) -> Any:
    """A new subclass of ``base`` for ``operator`` ("and", "or", "not") over ``operands``."""
    if operator == "not":
        name = f"~{_label(operands[0])}"
    else:
        name = f"({_label(operands[0])} {'&' if operator == 'and' else '|'} {_label(operands[1])})"
    return type(base)(name, (base,), {"operator": operator, "operands": operands})


def combine(operator: str, operands: list[Any], request: Request, view: Any) -> Outcome:
    """Evaluate ``operator`` over instantiated ``operands``, short-circuiting as DRF does."""
    if operator == "not":
        inner = evaluate(operands[0], request, view)
        if not inner.applicable:
            return Outcome(False, None, False, inner.message)
        if inner.allowed:
            return Outcome(False, None, True, "The access token holds a scope this view refuses.")
        return Outcome(True)
    first = evaluate(operands[0], request, view)
    if operator == "and":
        if not first.allowed:
            return first
        second = evaluate(operands[1], request, view)
        return second._replace(applicable=first.applicable and second.applicable)
    if first.allowed:
        return first
    second = evaluate(operands[1], request, view)
    if second.allowed:
        return second
    return Outcome(
        False,
        _merge(first.challenge, second.challenge),
        first.applicable or second.applicable,
        second.message or first.message,
    )


def reached_through_and_only(holder: Any, target: type) -> bool:
    """True when ``target`` sits in DRF's operator tree ``holder`` under ``&`` alone.

    A scope permission grouped inside DRF's own operators (``(A & B) & HasScope(...)``: the
    left operand is DRF's) can still answer with its challenge when every operator above it
    is an AND: its denial is then the whole expression's.
    """
    if holder is target:
        return True
    if isinstance(holder, OperandHolder):
        if getattr(holder.operator_class, "__name__", "") != "AND":
            return False
        return reached_through_and_only(holder.op1_class, target) or reached_through_and_only(holder.op2_class, target)
    if isinstance(holder, SingleOperandHolder):
        return False
    return False
