"""Helpers for the admin tests: reading changelist cells, view-only staff users."""

from __future__ import annotations

import re

from django.contrib.auth.models import Permission, User

ADMIN = "/admin/logto_m2m"


def cells(html: str, column: str) -> list[str]:
    """The text of a changelist column, row by row."""
    found = re.findall(rf'<t[dh] class="field-{column}(?: [^"]*)?"[^>]*>(.*?)</t[dh]>', html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def staff_user(username: str, *codenames: str) -> User:
    """A staff user (not a superuser) with exactly these permissions of the logto_m2m app."""
    user = User.objects.create_user(username, password="pw-not-used", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="logto_m2m", codename__in=codenames))
    return user


VIEW_ALL = (
    "view_resource",
    "view_scope",
    "view_role",
    "view_m2mapplication",
    "view_applicationsecret",
    "view_signingkey",
    "view_tokenactivity",
)
