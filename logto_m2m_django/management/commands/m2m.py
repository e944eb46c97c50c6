"""``manage.py m2m <subcommand>``: demo, rotate-keys, delete-key, keys, bootstrap, prune-activity."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ... import changes
from ...activity import PRUNE_BATCH_SIZE, prune
from ...conf import SUPPORTED_ALGORITHMS, m2m_settings
from ...grant_cache import announce_change
from ...key_rotation import parse_duration, rotate_signing_key, short_grace_period
from ...keys import KeyStoreError, announce_key_change, key_store
from ...models import KeyStatus, M2MApplication, Resource, Role, Scope, SigningKey
from ...provisioning import create_application, reset_default_secret

DEMO_RESOURCE = "https://shopping.api"
DEMO_SCOPES = {"read:products": "Read the product catalogue", "write:products": "Create and change products"}
#: The demo app's customData: the example project's custom claims hook puts it in its tokens.
DEMO_CUSTOM_DATA = {"tenantId": "demo-shop", "plan": "pro"}
DEMO_APP, DEMO_ROLE = "Order stats", "Shop reader"
#: How the demo marks what it creates: the application's customData, and a suffix of the role's and the
#: scopes' descriptions (resources and roles have no custom field). Anything else is never touched.
DEMO_MARKER = "m2m demo"
_SUFFIX = f" [{DEMO_MARKER}]"


def _not_ours(kind: str, name: str) -> CommandError:
    return CommandError(
        f"The {kind} {name!r} exists and was not created by `m2m demo`: the demo never changes objects it did not "
        f"create. Rename or delete that {kind}, or run the demo against another database."
    )


def _demo_objects() -> tuple[Resource, Role, M2MApplication, str]:
    """The shopping example, created or (when every object is the demo's own) reused; a fresh secret."""
    resource = Resource.objects.filter(indicator=DEMO_RESOURCE).first()
    if resource is None:
        resource = Resource.objects.create(indicator=DEMO_RESOURCE, name="Online shopping")
    elif not resource.scopes.exists() or resource.scopes.exclude(description__endswith=_SUFFIX).exists():
        raise _not_ours("API resource", DEMO_RESOURCE)
    scopes = [
        Scope.objects.get_or_create(resource=resource, name=name, defaults={"description": text + _SUFFIX})[0]
        for name, text in DEMO_SCOPES.items()
    ]
    role = Role.objects.filter(name=DEMO_ROLE).first()
    if role is None:
        role = Role.objects.create(name=DEMO_ROLE, description="Reads products" + _SUFFIX)
    elif not role.description.endswith(_SUFFIX):
        raise _not_ours("role", DEMO_ROLE)
    role.scopes.add(scopes[0])
    app = M2MApplication.objects.select_related("application").filter(application__name=DEMO_APP).first()
    if app is None:
        app, secret = create_application(
            DEMO_APP,
            description="Daily order statistics",
            roles=[role],
            custom_data={**DEMO_CUSTOM_DATA, "createdBy": DEMO_MARKER},
        )
        return resource, role, app, secret
    if (app.custom_data or {}).get("createdBy") != DEMO_MARKER:
        raise _not_ours("application", DEMO_APP)
    app.roles.add(role)
    if not app.is_enabled:  # the printed secret must get a token
        app.is_enabled = True
        app.save(update_fields=["is_enabled"])
    return resource, role, app, reset_default_secret(app)


def _with_dash_hint(error: Any) -> Any:
    """argparse takes a kid that starts with '-' (base64url allows it) for an option: say what to type."""

    def with_hint(message: str) -> Any:
        return error(f"{message} (a key ID that starts with '-' goes after '--': m2m delete-key -- -AbC...)")

    return with_hint


class Command(BaseCommand):
    help = "Machine-to-machine administration: demo data, signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, parser_class=type(parser))
        demo = sub.add_parser("demo", help="Create the shopping example (idempotent) and print a fresh secret.")
        demo.add_argument("--json", action="store_true", help="Print one JSON object.")
        demo.add_argument("--curl", action="store_true", help="Print ready-to-paste curl commands.")
        demo.add_argument(
            "--base-url", default=None, help="Where the example project runs (default: the issuer without /oidc)."
        )
        rotate = sub.add_parser("rotate-keys", help="Rotate the signing key.")
        rotate.add_argument("--algorithm", choices=SUPPORTED_ALGORITHMS, default=None)
        rotate.add_argument(
            "--staged",
            action="store_true",
            help="Create a Next key (published, not yet signing) that the next immediate rotation promotes.",
        )
        rotate.add_argument(
            "--grace-period",
            default=None,
            metavar="DURATION",
            help="Publish the new key as Next now; it signs once DURATION has passed (e.g. 90s, 30m, 4h, 2d), by "
            "itself in every process. 0 rotates at once. Default: KEY_ROTATION_GRACE_PERIOD.",
        )
        delete = sub.add_parser(
            "delete-key",
            help="Delete a Previous or Next signing key: its tokens stop validating in every process within "
            "KEY_CHANGE_CHECK_SECONDS (how a leaked key is revoked; rotate first if it is Current).",
        )
        delete.add_argument("kid", help="The key ID, as `m2m keys` lists it; one starting with '-' goes after '--'.")
        delete.error = _with_dash_hint(delete.error)  # type: ignore[method-assign]
        sub.add_parser("keys", help="List the signing keys.")
        bootstrap = sub.add_parser(
            "bootstrap",
            help="Ensure the Management API resource, its scopes and role; create an app holding `all` (or the "
            "--scope ones) and print its credentials once.",
        )
        bootstrap.add_argument("--name", default="Management API client", help="Name of the new application.")
        bootstrap.add_argument("--json", action="store_true", help="Print one JSON object.")
        bootstrap.add_argument(
            "--scope",
            action="append",
            default=None,
            metavar="SCOPE",
            help="A Management API scope the app holds (repeatable; default all), e.g. read:applications.",
        )
        prune = sub.add_parser(
            "prune-activity",
            help="Delete token activity rows older than TOKEN_ACTIVITY_RETENTION_DAYS (run it daily).",
        )
        prune.add_argument("--days", type=float, default=None, help="Keep this many days instead of the setting.")
        prune.add_argument("--dry-run", action="store_true", help="Count the rows, delete nothing.")
        prune.add_argument("--batch-size", type=int, default=PRUNE_BATCH_SIZE, help="Rows deleted per statement.")
        sub.add_parser(
            "announce-change",
            help="Tell every process that applications, secrets, roles, resources, scopes or signing keys "
            "changed: for changes made outside Django's ORM (raw SQL, another program), which the token "
            "endpoint's cache would otherwise keep for up to GRANT_CACHE_SECONDS, or for a notice the shared "
            "cache missed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(**options)
        finally:
            self._warn_unpublished()

    def _warn_unpublished(self) -> None:
        """This process is about to exit: a change notice the shared cache did not take is never retried here."""
        missed = changes.unpublished()
        if missed:
            self.stderr.write(
                f"Warning: the shared cache did not take the change notice ({', '.join(sorted(missed))}). The "
                f"change is saved; processes that read the cache see it within {changes.CACHE_TTL_SECONDS} s. Run "
                "`python manage.py m2m announce-change` once the cache answers to tell them at once."
            )

    def _run(self, **options: Any) -> None:
        if options["subcommand"] == "bootstrap":
            from ...management_api.bootstrap import run_bootstrap

            run_bootstrap(self, **options)
            return
        handler = {
            "demo": self.demo,
            "rotate-keys": self.rotate_keys,
            "delete-key": self.delete_key,
            "keys": self.list_keys,
            "prune-activity": self.prune_activity,
            "announce-change": self.announce_change,
        }[options["subcommand"]]
        handler(**options)

    def announce_change(self, **options: Any) -> None:
        with transaction.atomic():
            version = announce_change()
            announce_key_change()
        self.stdout.write(
            f"Announced (version {version}): every process reads clients, grants and signing keys afresh."
        )

    # -- demo ----------------------------------------------------------------

    def demo(self, **options: Any) -> None:
        with transaction.atomic():
            resource, role, app, secret = _demo_objects()
        key_store.signing_material()  # the first key, so the JWKS is ready
        issuer = m2m_settings.ISSUER or ""
        data = {
            "client_id": app.client_id,
            "client_secret": secret,
            "resource": DEMO_RESOURCE,
            "scope": "read:products write:products",
            "token_endpoint": f"{issuer}/token",
            "issuer": issuer,
        }
        if options.get("json"):
            self.stdout.write(json.dumps(data))
            return
        if options.get("curl"):
            self.stdout.write(self._curl_lines(data, options.get("base_url")))
            return
        self.stdout.write(f"API resource: {resource}")
        self.stdout.write(f"Role:         {role.name} (read:products)")
        self.stdout.write(f"Application:  {app.name}")
        self.stdout.write(f"  App ID:     {data['client_id']}")
        self.stdout.write(f"  App secret: {data['client_secret']}  (shown once; run again for a new one)")
        self.stdout.write(f"Token endpoint: {data['token_endpoint']}")

    def _curl_lines(self, data: dict[str, str], base_url: str | None) -> str:
        base = (base_url or data["issuer"].removesuffix("/oidc")).rstrip("/")
        basic = base64.b64encode(f"{data['client_id']}:{data['client_secret']}".encode()).decode()
        extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
        return "\n".join(
            [
                "",
                "The shopping example is ready: API https://shopping.api, role 'Shop reader' (read:products),",
                f"app 'Order stats' (App ID {data['client_id']}). Its secret is shown only here.",
                "",
                "# 1. Get an access token (Logto's quick-start request):",
                f"curl --location --request POST '{base}/oidc/token' \\",
                f"  --header 'Authorization: Basic {basic}' \\",
                "  --header 'Content-Type: application/x-www-form-urlencoded' \\",
                "  --data-urlencode 'grant_type=client_credentials' \\",
                "  --data-urlencode 'resource=https://shopping.api' \\",
                "  --data-urlencode 'scope=read:products write:products'",
                "",
                "# 2. Keep the token in a shell variable and call the API:",
                f"TOKEN=$(curl -s -u '{data['client_id']}:{data['client_secret']}' '{base}/oidc/token' \\",
                "  --data-urlencode 'grant_type=client_credentials' \\",
                "  --data-urlencode 'resource=https://shopping.api' \\",
                f"  --data-urlencode 'scope=read:products write:products' | {extract})",
                f"curl --location --request GET '{base}/products' --header \"Authorization: Bearer $TOKEN\"",
                "",
                "# The token's claims (tenant_id and plan come from the app's customData, via the custom claims hook):",
                'python3 -c \'import base64,json,sys; p=sys.argv[1].split(".")[1]; '
                'print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"==")), indent=2))\' "$TOKEN"',
                "",
                "# 3. Writing needs write:products, which 'Shop reader' lacks: 403 insufficient_scope",
                f"curl -i --request POST '{base}/products' --header \"Authorization: Bearer $TOKEN\" \\",
                "  --data-urlencode 'name=Desk lamp' --data-urlencode 'price=25.00'",
                "",
                f"Admin: {base}/admin/ (create a superuser with: .venv/bin/python manage.py createsuperuser)",
                "",
            ]
        )

    # -- keys ----------------------------------------------------------------

    def rotate_keys(self, **options: Any) -> None:
        staged = bool(options.get("staged"))
        raw = options.get("grace_period")
        try:
            grace = None if raw is None else parse_duration(raw)
            if staged and grace:
                raise KeyStoreError("--staged waits for a manual promotion; --grace-period sets a date: choose one.")
            key = rotate_signing_key(options.get("algorithm"), grace_period=grace, staged=staged)
        except KeyStoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{key.get_status_display()} key: {key.kid} ({key.algorithm})"))
        if key.effective_at is not None and key.status == KeyStatus.NEXT:
            self.stdout.write(
                f"Published in the JWKS now; signs new tokens from {key.effective_at:%Y-%m-%d %H:%M:%S} UTC, "
                "in every process, with no further command."
            )
            warning = short_grace_period((key.effective_at - key.created_at).total_seconds())
            if warning:
                self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        self.list_keys()

    def delete_key(self, **options: Any) -> None:
        kid = options["kid"]
        try:
            key_store.delete(kid)
        except KeyStoreError as exc:
            raise CommandError(f"Key {kid} not deleted: {exc}") from exc
        interval = m2m_settings.KEY_CHANGE_CHECK_SECONDS
        if interval <= 0:  # notices off (system check logto_m2m.W030)
            interval = m2m_settings.KEY_CACHE_SECONDS
        self.stdout.write(
            self.style.SUCCESS(f"Deleted key {kid}: every process refuses its tokens within {interval:g} s.")
        )
        self.list_keys()

    def list_keys(self, **options: Any) -> None:
        keys = list(SigningKey.objects.order_by("status", "-created_at"))
        if not keys:
            self.stdout.write("No signing keys yet: the first one is created on first need (or by rotate-keys).")
        for key in keys:
            due = ""
            if key.status == KeyStatus.NEXT and key.effective_at is not None:
                due = f"  signs from {key.effective_at:%Y-%m-%d %H:%M:%S} UTC"
            self.stdout.write(
                f"{key.get_status_display():9} {key.algorithm:6} {key.kid}  {key.created_at:%Y-%m-%d %H:%M}{due}"
            )

    # -- activity log ----------------------------------------------------------

    def prune_activity(self, **options: Any) -> None:
        days = options.get("days")
        if days is None:
            days = m2m_settings.TOKEN_ACTIVITY_RETENTION_DAYS
            if days is None:
                self.stdout.write(
                    'LOGTO_M2M["TOKEN_ACTIVITY_RETENTION_DAYS"] is None: the activity log is kept forever, '
                    "nothing deleted (pass --days N to prune anyway)."
                )
                return
        if days <= 0:
            raise CommandError("--days must be a positive number of days.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        count = prune(days, batch_size=options["batch_size"], dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {count} token activity rows older than {days:g} days.")
