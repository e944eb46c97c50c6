"""``m2m demo`` never alters an application, role or resource it did not create."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from logto_m2m_django.models import M2MApplication, Resource, Role, Scope
from logto_m2m_django.provisioning import create_application

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parent.parent


def demo() -> dict[str, str]:
    out = io.StringIO()
    call_command("m2m", "demo", "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


def test_an_existing_order_stats_app_is_left_alone() -> None:
    theirs, _ = create_application("Order stats", description="Production statistics")
    M2MApplication.objects.filter(pk=theirs.pk).update(is_enabled=False)
    hash_before = theirs.application.client_secret
    with pytest.raises(CommandError, match=r"Order stats.*not created by"):
        demo()
    theirs.refresh_from_db()
    theirs.application.refresh_from_db()
    assert theirs.application.client_secret == hash_before
    assert theirs.is_enabled is False and not theirs.roles.exists()


def test_an_existing_shop_reader_role_is_left_alone() -> None:
    role = Role.objects.create(name="Shop reader", description="Someone else's")
    with pytest.raises(CommandError, match=r"Shop reader.*not created by"):
        demo()
    assert not role.scopes.exists()
    assert not M2MApplication.objects.exists()


def test_an_existing_shopping_resource_is_left_alone() -> None:
    resource = Resource.objects.create(name="Real shop", indicator="https://shopping.api")
    Scope.objects.create(resource=resource, name="read:products", description="Theirs")
    with pytest.raises(CommandError, match=r"https://shopping\.api.*not created by"):
        demo()
    assert list(resource.scopes.values_list("name", flat=True)) == ["read:products"]
    assert not Role.objects.exists()


def test_rerunning_on_its_own_objects_prints_a_fresh_secret() -> None:
    first = demo()
    second = demo()
    assert first["client_id"] == second["client_id"] and first["client_secret"] != second["client_secret"]
    app = M2MApplication.objects.get()
    assert app.custom_data.get("createdBy") == "m2m demo"


def test_the_cli_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    import os

    from tests.e2e_support import manage

    db = tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", DATABASE_URL=f"sqlite:///{db}")
    manage(env, "migrate", "--noinput", "-v0")
    code = "from logto_m2m_django.provisioning import create_application; create_application('Order stats')"
    manage(env, "shell", "-c", code)
    result = subprocess.run(
        [sys.executable, "manage.py", "m2m", "demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Order stats" in result.stderr and "not created by" in result.stderr
