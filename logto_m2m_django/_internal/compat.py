"""Differences between the supported Django versions (4.2 to 6.x)."""

from __future__ import annotations

from typing import Any

import django
from django.db import models


def check_constraint(*, condition: Any, name: str) -> models.CheckConstraint:
    """``CheckConstraint``: its ``check`` argument became ``condition`` in Django 5.1 (``check`` left in 6.0)."""
    if django.VERSION >= (5, 1):
        return models.CheckConstraint(condition=condition, name=name)
    return models.CheckConstraint(check=condition, name=name)  # type: ignore[call-arg,unused-ignore]
