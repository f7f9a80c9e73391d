"""Every URL the admin resolves, as every role, against objects of every other role, checked against the matrix.

The expectations come from numbers.permission_matrix (the spec) and from how this test built its world
(which operator and role each object belongs to), never from the code under test. An admin URL that the
matrix does not classify fails the test: a new page must be given its row.
"""

from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from numbers import permission_matrix as pm
from numbers import roles
from numbers.models import AuditEntry, Disclosure, FeedUpload, Operator, RiskList, StaffProfile
from tests.factories import UserFactory, staff_user
from tests.helpers_two_factor import sign_in_verified

# Minutes of walking: CI runs it once, in the PostgreSQL pass (make test runs it everywhere).
pytestmark = pytest.mark.heavy

User = get_user_model()
SITE_PAGES = {"index", "app_list", "password_change", "password_change_done", "jsi18n", "view_on_site", "autocomplete",
              "two_factor"}
OPEN_PAGES = {"login", "logout"}
# Custom URLs of model admins, by the suffix of their name.
CUSTOM_URLS = {"export_csv": "export", "password_change": "password", "report": "report", "lift": "lift",
               "two_factor_reset": "two_factor_reset", "reset_link": "reset_link", "signature": "signature",
               "progress": "view", "sample": "add"}
# Bulk actions that change rows when confirmed; the delete action needs "post" to confirm.
ACTION_NAMES = {"delete_selected": "delete", "lift_marks": "lift"}


def admin_url_names() -> list[str]:
    """Every named URL under the admin site, the model admins' own included."""
    names = []

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif isinstance(p, URLPattern) and p.name:
                names.append(p.name)

    walk(admin.site.get_urls())
    return sorted(set(names))


def classify(name: str) -> tuple[str, str] | None:
    """Return the matrix's (page, action) of an admin URL name, or None when the matrix says nothing of it."""
    if name in SITE_PAGES:
        return "site", "enter"
    if name == "dashboard":
        return "site.dashboard", "view"
    if name == "dashboard_monthly":
        return "site.dashboard", "report"
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix):
            rest = name[len(prefix):]
            page = model._meta.label_lower
            if rest in ("changelist", "change", "history"):
                return page, "view"
            if rest in ("add", "delete"):
                return page, rest
            if rest in CUSTOM_URLS:
                return page, CUSTOM_URLS[rest]
    return None


def test_the_matrix_classifies_every_admin_url():
    unclassified = [n for n in admin_url_names() if n not in OPEN_PAGES and classify(n) is None]
    assert not unclassified, f"admin URLs the permission matrix says nothing of: {unclassified}"
    pages = {m._meta.label_lower for m in admin.site._registry}
    assert pages <= set(pm.MATRIX), f"admin pages missing from the matrix: {pages - set(pm.MATRIX)}"


def test_the_matrix_names_every_bulk_action():
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or []:
            name = action if isinstance(action, str) else action.__name__
            assert ACTION_NAMES.get(name, name) in pm.MATRIX[model._meta.label_lower], (model, name)


def test_docs_show_the_matrix():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    assert pm.render_markdown() in docs, "docs/security.md is out of date: run manage.py permission_matrix --write"


# --- the world: two operators, and an account of every role -----------------------------------------


@dataclass
class Account:
    user: object
    role: str
    operator: Operator | None = None


@dataclass
class World:
    a: Operator
    b: Operator
    accounts: dict[str, Account] = field(default_factory=dict)


@pytest.fixture
def matrix_world(world, renewal_world, tmp_path, settings):
    from numbers.services import number_cancel
    from renewal.active.reports import evidence_storage
    from renewal.deliveries.services import batch_sweep
    from renewal.models import Evidence, HarassmentReport
    from tests.renewal.helpers_renewal import make_frozen_numbers

    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    a, b = world["CMCC"], world["CUCC"]
    # B has renewal rows too: a batch of its own, pushed to the live platform.
    make_frozen_numbers(b.operator, 2)
    batch_sweep()
    number_cancel(number=b.active, operator=b.operator, at=timezone.now(), actor="test")
    for upload in FeedUpload.objects.all():
        upload.report.save(f"report-{upload.pk}.csv", ContentFile(b"line,msisdn,outcome\n"), save=True)
    for disclosure in Disclosure.objects.all():  # each signed on the screen
        disclosure.signature.save("s.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
    for risk_list in RiskList.objects.all():
        risk_list.report.save(f"risk-{risk_list.pk}.csv", ContentFile(b"line,msisdn,outcome\n"), save=True)
    report = HarassmentReport.objects.first()
    path = evidence_storage().save("evidence/test.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    Evidence.objects.create(report=report, path=path, original_name="call.png", content_type="image/png", size=8,
                            sha256="0" * 64)

    w = World(a=a.operator, b=b.operator)
    w.accounts = {
        "superuser": Account(UserFactory(username="root", is_superuser=True, is_staff=True), pm.SUPERUSER),
        "operator administrator A": Account(a.admin, pm.OPERATOR_ADMIN, a.operator),
        "operator administrator B": Account(b.admin, pm.OPERATOR_ADMIN, b.operator),
        "sales staff A": Account(a.clerk, pm.SALES_STAFF, a.operator),
        "sales staff B": Account(b.clerk, pm.SALES_STAFF, b.operator),
        "regulator": Account(staff_user(role=roles.REGULATOR, username="reg"), pm.REGULATOR),
        "renewal-platform administrator": Account(staff_user(role=roles.PLATFORM_ADMIN, username="pa"),
                                                  pm.PLATFORM_ADMIN),
        "orphan": Account(UserFactory(username="orphan", is_staff=True), pm.ORPHAN),
        "mixed": Account(_mixed_account(a.operator), pm.MIXED, a.operator),
        "platform engineer": Account(_platform_engineer(), pm.PLATFORM_ENGINEER),
    }
    # Sales staff would never reach admin; give them the staff flag, as a mistake would.
    User.objects.filter(pk__in=[a.clerk.pk, b.clerk.pk]).update(is_staff=True)
    return w


def _platform_engineer():
    """An engineer of a platform: signs in to the platform account area; given the staff flag, as a mistake would."""
    from renewal.models import Platform, PlatformAccount

    user = staff_user(role=roles.PLATFORM_ENGINEER, username="engineer")
    PlatformAccount.objects.create(user=user, platform=Platform.objects.order_by("pk").first(), is_owner=True)
    return user


def _mixed_account(operator):
    """A regulator that also has a staff profile, as an account made before the one-role guards could be."""
    user = staff_user(role=roles.REGULATOR, username="mixed")
    StaffProfile.objects.bulk_create([StaffProfile(user=user, operator=operator)])  # bulk_create skips save()
    return user


SUBJECTS = ["superuser", "operator administrator A", "operator administrator B", "sales staff A", "regulator",
            "renewal-platform administrator", "platform engineer", "orphan", "mixed"]


# --- what the matrix allows on one object -----------------------------------------------------------


def operators_of(obj, depth: int = 3) -> set[int]:
    """Every operator an object points at through the portal's foreign keys (not through users)."""
    if isinstance(obj, Operator):
        return {obj.pk}
    found: set[int] = set()
    if depth == 0:
        return found
    for f in obj._meta.concrete_fields:
        if f.is_relation and f.related_model._meta.app_label in ("numbers", "renewal"):
            target = getattr(obj, f.name)
            if target is not None:
                found |= operators_of(target, depth - 1)
    return found


class Expect:
    def __init__(self, w: World, subject: Account):
        self.w, self.subject = w, subject
        self.roles_by_user = {acc.user.pk: acc for acc in w.accounts.values()}

    def scope(self, page: str, action: str) -> str | None:
        return pm.scope(page, action, self.subject.role)

    def allows(self, page: str, action: str, obj=None) -> bool:
        scope = self.scope(page, action)
        if scope is None:
            return False
        if scope == pm.ALL or obj is None:
            return True
        mine = self.subject.operator.pk
        if scope == pm.OWN:
            return mine in operators_of(obj)
        # OWN_STAFF: an account (or its profile) that is plainly sales staff of the subject's operator
        user = obj.user if isinstance(obj, StaffProfile) else obj
        target = self.roles_by_user.get(user.pk)
        return target is not None and target.role == pm.SALES_STAFF and target.operator.pk == mine

    def enters(self) -> bool:
        return self.allows("site", "enter")


def samples(model, w: World) -> list:
    """Objects of the model to act on: one of each operator where it has them, else the first one."""
    if model is User:
        return [acc.user for acc in w.accounts.values()]
    rows = list(model._default_manager.order_by("pk"))
    picked = []
    for op in (w.a.pk, w.b.pk):
        picked += [o for o in rows if operators_of(o) == {op}][:1]
    if model is StaffProfile:  # the profiles of sales staff and of operator administrators
        picked = list(StaffProfile.objects.exclude(user__username="mixed").order_by("pk"))
    return picked or rows[:1]


def snapshot(model) -> list[dict]:
    return list(model._default_manager.order_by("pk").values())


# --- the walk ----------------------------------------------------------------------------------------


def _refused(response, login_url: str) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and (location == reverse("admin:index") or location.startswith(login_url))


@dataclass
class Walk:
    client: object
    expect: Expect
    problems: list[str] = field(default_factory=list)

    def check(self, allowed: bool, response, what: str, ok=(200,)) -> None:
        login = reverse("admin:login")
        if allowed and response.status_code not in ok:
            self.problems.append(f"{what}: refused ({response.status_code} {response.get('Location', '')}), "
                                 "the matrix allows it")
        if not allowed and not _refused(response, login):
            self.problems.append(f"{what}: answered {response.status_code}, the matrix refuses it")


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def walk_site(walk: Walk) -> None:
    c, expect = walk.client, walk.expect
    enters = expect.enters()
    for name in ("index", "password_change", "jsi18n"):
        walk.check(enters, c.get(reverse(f"admin:{name}")), f"GET admin:{name}")
    for app in ("auth", "numbers", "renewal"):
        visible = any(expect.allows(page, "view") for page in pm.MATRIX if page.startswith(f"{app}."))
        walk.check(enters and visible, c.get(reverse("admin:app_list", args=[app])), f"GET app {app}")
    walk.check(expect.allows("site.dashboard", "view"), c.get(reverse("admin:dashboard")), "GET dashboard")
    walk.check(expect.allows("site.dashboard", "report"), c.get(reverse("admin:dashboard_monthly")),
               "GET monthly report")


def walk_model(walk: Walk, model, model_admin, w: World) -> None:
    c, expect = walk.client, walk.expect
    page = model._meta.label_lower
    objs = samples(model, w)
    enters = expect.enters()

    def may(action, obj=None):
        return enters and expect.allows(page, action, obj)

    # the list: exactly the rows in scope
    response = c.get(_url(model, "changelist"))
    walk.check(may("view"), response, f"GET {page} list")
    if response.status_code == 200:
        shown = {o.pk for o in response.context["cl"].queryset}
        for obj in objs:
            if (obj.pk in shown) != may("view", obj):
                walk.problems.append(f"{page} list {'shows' if obj.pk in shown else 'hides'} {obj!r}")
        form = response.context["action_form"]  # None when no action is offered
        offered = {name for name, _label in form.fields["action"].choices if name} if form else set()
        for name in offered:
            if not may(ACTION_NAMES.get(name, name)):
                walk.problems.append(f"{page} list offers the action {name}, the matrix refuses it")
    # add
    walk.check(may("add"), c.get(_url(model, "add")), f"GET {page} add")
    if model is FeedUpload:
        walk.check(may("add"), c.get(_url(model, "sample", "cancellations")), f"GET {page} sample")
    # each object: its page, its history, its delete page, its custom pages
    for obj in objs:
        what = f"{page} {obj!r}"
        response = c.get(_url(model, "change", obj.pk))
        walk.check(may("view", obj), response, f"GET {what}")
        has_save = b'name="_save"' in response.content
        if response.status_code == 200 and has_save != may("change", obj):
            walk.problems.append(f"{what}: the page {'has' if has_save else 'lacks'} a save button")
        walk.check(may("view", obj), c.get(_url(model, "history", obj.pk)), f"GET {what} history")
        walk.check(may("delete", obj), c.get(_url(model, "delete", obj.pk)), f"GET {what} delete")
        if model is User:
            walk.check(may("password", obj), c.get(_url(model, "password_change", obj.pk)), f"GET {what} password")
            walk.check(may("two_factor_reset", obj), c.get(_url(model, "two_factor_reset", obj.pk)),
                       f"GET {what} two-factor reset")
            walk.check(may("reset_link", obj), c.get(_url(model, "reset_link", obj.pk)), f"GET {what} reset link")
        if model is Disclosure:
            walk.check(may("signature", obj), c.get(_url(model, "signature", obj.pk)), f"GET {what} signature")
        if model in (FeedUpload, RiskList):
            walk.check(may("report", obj), c.get(_url(model, "report", obj.pk)), f"GET {what} report")
        if model in (FeedUpload, RiskList):
            walk.check(may("view", obj), c.get(_url(model, "progress", obj.pk)), f"GET {what} progress")
    if hasattr(model_admin, "csv_fields"):
        response = c.get(_url(model, "export_csv"))
        walk.check(may("export"), response, f"GET {page} export")
        if response.status_code == 200:
            rows = len(b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()) - 1
            in_scope = [o for o in model._default_manager.all() if may("export", o)]
            if model is AuditEntry:
                in_scope = in_scope[1:]  # the export's own entry, written once its rows were sent
            if rows != len(in_scope):
                walk.problems.append(f"{page} export has {rows} rows, the matrix allows {len(in_scope)}")
    walk_writes(walk, model, model_admin, objs, may)


def walk_writes(walk: Walk, model, model_admin, objs, may) -> None:
    """POST every write the matrix refuses, and check that nothing changed."""
    c = walk.client
    page = model._meta.label_lower
    before = snapshot(model)
    refused = [o for o in objs if not may("change", o)]
    for obj in refused:
        walk.check(False, c.post(_url(model, "change", obj.pk), {"id": obj.pk}), f"POST {page} {obj!r}")
    for obj in [o for o in objs if not may("delete", o)]:
        walk.check(False, c.post(_url(model, "delete", obj.pk), {"post": "yes"}), f"POST {page} {obj!r} delete")
    if not may("add"):
        walk.check(False, c.post(_url(model, "add"), {}), f"POST {page} add")
    if model is User:
        for obj in [o for o in objs if not may("password", o)]:
            response = c.post(_url(model, "password_change", obj.pk),
                              {"password1": "taken-over-2026", "password2": "taken-over-2026"})
            walk.check(False, response, f"POST {page} {obj!r} password")
        for obj in [o for o in objs if not may("two_factor_reset", o)]:
            walk.check(False, c.post(_url(model, "two_factor_reset", obj.pk)), f"POST {page} {obj!r} two-factor reset")
    for action in {"delete_selected", *(model_admin.actions or [])}:
        name = action if isinstance(action, str) else action.__name__
        targets = [o.pk for o in objs if not may(ACTION_NAMES.get(name, name), o)]
        if targets:
            c.post(_url(model, "changelist"), {"action": name, ACTION_CHECKBOX_NAME: targets, "post": "yes"})
    if "lift" in pm.MATRIX.get(page, {}):
        for obj in [o for o in objs if not may("lift", o)]:
            walk.check(False, c.post(_url(model, "lift", obj.pk)), f"POST {page} {obj!r} lift")
    after = snapshot(model)
    changed = [row for row in after if row not in before]
    touched = {row["id"] for row in changed} & {o.pk for o in objs if not (may("change", o) or may("lift", o))}
    if touched or len(after) != len(before):
        walk.problems.append(f"{page}: refused writes changed rows {sorted(map(str, touched))}")


def walk_autocomplete(walk: Walk, w: World) -> None:
    """Each autocomplete field lists exactly the target rows the subject may view."""
    for model, model_admin in admin.site._registry.items():
        for field_name in model_admin.autocomplete_fields:
            remote = model._meta.get_field(field_name).related_model
            page = remote._meta.label_lower
            response = walk.client.get(reverse("admin:autocomplete"), {
                "app_label": model._meta.app_label, "model_name": model._meta.model_name,
                "field_name": field_name, "term": ""})
            allowed = walk.expect.enters() and walk.expect.allows(page, "view")
            walk.check(allowed, response, f"autocomplete {model._meta.label_lower}.{field_name}")
            if response.status_code == 200:
                shown = {str(r["id"]) for r in response.json()["results"]}
                for obj in samples(remote, w):
                    if (str(obj.pk) in shown) != walk.expect.allows(page, "view", obj):
                        walk.problems.append(f"autocomplete {page} {'shows' if str(obj.pk) in shown else 'hides'} "
                                             f"{obj!r}")


def walk_evidence(walk: Walk) -> None:
    from renewal.models import Evidence

    evidence = Evidence.objects.get()
    for action, name in (("download", "subscriber:evidence"), ("preview", "subscriber:evidence_preview")):
        response = walk.client.get(reverse(name, args=[evidence.pk]))
        allowed = walk.expect.allows("renewal.evidence", action)
        if allowed != (response.status_code == 200):
            walk.problems.append(f"evidence {action} answered {response.status_code}; the matrix "
                                 f"{'allows' if allowed else 'refuses'} it")


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_admin_url_answers_as_the_matrix_says(client, matrix_world, subject, settings):
    # Two-factor sign-in as in production: every admin account signed in with its password and a code.
    settings.ADMIN_2FA_RELAXED = False
    w = matrix_world
    account = w.accounts[subject]
    if account.role in (pm.SUPERUSER, pm.OPERATOR_ADMIN, pm.REGULATOR, pm.PLATFORM_ADMIN):
        sign_in_verified(client, account.user)
    else:
        client.force_login(account.user)
    walk = Walk(client, Expect(w, account))
    walk_site(walk)
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda i: i[0]._meta.label_lower):
        walk_model(walk, model, model_admin, w)
    walk_autocomplete(walk, w)
    walk_evidence(walk)
    assert not walk.problems, f"{subject}:\n  " + "\n  ".join(walk.problems)


def test_the_matrix_has_a_column_for_every_role():
    assert set(pm.COLUMNS) == {pm.SUPERUSER, pm.ORPHAN, pm.MIXED, *roles.ROLES}
