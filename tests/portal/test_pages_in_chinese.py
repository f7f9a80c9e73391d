"""Every page a person sees, as each role sees it, in a zh-CN browser: no English words left (helpers_latin).

The pages come from the URLconf and the admin registry, never from a hand-kept list: every URL of the staff and
subscriber pages (with the landing page and every other non-API page), and every admin URL — each model's list,
add, change, history and delete-confirmation page, their own pages, the site's pages — as every role of the
permission-matrix test (tests/numbers/test_permission_matrix.py), in a world of two operators whose data people
typed in Chinese. Pages with a form on themselves are also posted empty, so their error messages are read too.
A URL the test cannot build arguments for fails it: a new page is read from the day it exists.
"""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone, translation

from numbers import roles
from numbers.feeds.services import feed_upload_process
from numbers.models import FeedUpload, HolderPeriod, StaffProfile
from numbers.services import number_cancel
from renewal.active.reports import evidence_storage, harassment_report_create
from renewal.active.services import unbind_request_create
from renewal.conformance.services import conformance_record_simulated
from renewal.deliveries.services import batch_sweep
from renewal.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryState,
    Evidence,
    HarassmentReport,
    PlatformAccount,
    UnbindRequest,
)
from renewal.onboarding.services import RegistrationInput, registration_submit
from renewal.platforms import services as platform_services
from tests.factories import OperatorFactory, PhoneNumberFactory, UserFactory, role_group, staff_user
from tests.numbers import test_permission_matrix as matrix
from tests.numbers.helpers_oversight import WorldNames, operator_world
from tests.portal.helpers_latin import allowlist, english_on_page
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import sign_in
from tests.renewal.onboarding.conftest import sign_in_engineer

# Minutes of walking: CI runs it once, in the PostgreSQL pass (make test runs it everywhere).
pytestmark = pytest.mark.heavy

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
SHOWN = int(os.environ.get("LATIN_SHOWN", "200"))  # lines of the failure message

NAMES_A = WorldNames(outlet="北京西单营业厅", clerk="王小明", admin="移动管理员", actor="移动管理员",
                     authority="公安部", decline_reason="客户想要尾号更吉利的号码", feed_file="注销数据.csv")
NAMES_B = WorldNames(outlet="上海南京路营业厅", clerk="李华", admin="联通管理员", actor="联通管理员",
                     authority="工业和信息化部", decline_reason="客户选了全新号码", feed_file="携号转网.csv")


# --- the world: the permission-matrix test's, typed in Chinese -----------------------------------------


@dataclass
class PageWorld:
    w: matrix.World
    subscriber_msisdn: str
    extra: dict = field(default_factory=dict)


@pytest.fixture
def page_world(db, tmp_path, settings):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    a = operator_world(OperatorFactory(code="CMCC", name="中国移动"), tag="cm", names=NAMES_A)
    b = operator_world(OperatorFactory(code="CUCC", name="中国联通"), tag="cu", names=NAMES_B)
    for platform in (make_platform(name="支付宝", category="payment"),
                     make_platform(name="号码标记服务", category="number_tags", kind="tag_provider")):
        platform_services.api_key_create(platform=platform, name="生产环境", actor="平台管理员")
        conformance_record_simulated(platform=platform, actor="平台管理员")  # the check's page, the list's column
    engineer = _platform_engineer(platform)
    make_frozen_numbers(a.operator, 3)
    make_frozen_numbers(b.operator, 2)
    batch_sweep()
    number_cancel(number=b.active, operator=b.operator, at=timezone.now(), actor=b.admin)
    # A secondary number back on sale: the clerk's disclosure shows its disconnection date.
    for_sale = PhoneNumberFactory(range_holder=a.operator, is_secondary=True)
    period = HolderPeriod.objects.get(number=a.secondary_active, ended_at__isnull=True)
    report = harassment_report_create(period=period, category="debt_collection", sender="95588",
                                      occurred_at=timezone.now() - timedelta(days=2),
                                      description="每天都有人打电话找前机主催收贷款。", files=[])
    path = evidence_storage().save("evidence/test.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    evidence = Evidence.objects.create(report=report, path=path, original_name="来电截图.png",
                                       content_type="image/png", size=8, sha256="0" * 64)
    unbind = unbind_request_create(period=period)
    _process_uploads(a.admin)

    w = matrix.World(a=a.operator, b=b.operator)
    w.accounts = {
        "superuser": matrix.Account(UserFactory(username="超级管理员", is_superuser=True, is_staff=True),
                                    matrix.pm.SUPERUSER),
        "operator administrator A": matrix.Account(a.admin, matrix.pm.OPERATOR_ADMIN, a.operator),
        "operator administrator B": matrix.Account(b.admin, matrix.pm.OPERATOR_ADMIN, b.operator),
        "sales staff A": matrix.Account(a.clerk, matrix.pm.SALES_STAFF, a.operator),
        "sales staff B": matrix.Account(b.clerk, matrix.pm.SALES_STAFF, b.operator),
        "regulator": matrix.Account(staff_user(role=roles.REGULATOR, username="监管员"), matrix.pm.REGULATOR),
        "renewal-platform administrator": matrix.Account(staff_user(role=roles.PLATFORM_ADMIN, username="平台管理员"),
                                                         matrix.pm.PLATFORM_ADMIN),
        "orphan": matrix.Account(UserFactory(username="无角色账号", is_staff=True), matrix.pm.ORPHAN),
        "mixed": matrix.Account(_mixed_account(a.operator), matrix.pm.MIXED, a.operator),
        "platform engineer": matrix.Account(engineer.user, matrix.pm.PLATFORM_ENGINEER),
    }
    registration_submit(data=RegistrationInput(
        organisation="示例出行科技有限公司", platform_name="示例出行", contact_name="张工",
        contact_email="ops@rides.example.cn", contact_phone="+86 10 5555 0100", categories=["travel"],
        kind="application", webhook_url="", support_phone="+86 400 555 0100", support_url=""))
    return PageWorld(w, a.secondary_active.msisdn, extra={
        "engineer": engineer, "key": platform.api_keys.first(), "delivery": _dead_delivery(platform),
        "for_sale": [a.fresh, for_sale], "periods": [period, HolderPeriod.objects.get(number=a.active,
                                                                                      ended_at__isnull=True)],
        "unbind": unbind, "report": report, "evidence": evidence})


def _platform_engineer(platform):
    user = UserFactory(username="工程师@号码标记.cn")
    user.groups.add(role_group(roles.PLATFORM_ENGINEER))
    return PlatformAccount.objects.create(user=user, platform=platform, is_owner=True)


def _dead_delivery(platform):
    delivery = Delivery.objects.create(event=DeliveryEvent.UNBIND, platform=platform, state=DeliveryState.DEAD,
                                       created_at=timezone.now(), last_error="HTTP 503")
    DeliveryAttempt.objects.create(delivery=delivery, platform=platform, started_at=timezone.now(), status_code=503,
                                   latency_ms=120, error="HTTP 503")
    return delivery


def _mixed_account(operator):
    user = staff_user(role=roles.REGULATOR, username="混合账号")
    StaffProfile.objects.bulk_create([StaffProfile(user=user, operator=operator)])  # bulk_create skips save()
    return user


def _process_uploads(by) -> None:
    """Run each upload through the real import, in Chinese, with a line it rejects: a real report to show."""
    now = timezone.localtime()
    for upload in FeedUpload.objects.all():
        upload.file.save("feed.csv", ContentFile(f"msisdn,cancelled_at\n+8613912345678,{now:%Y-%m-%dT%H:%M}\n"
                                                 .encode()), save=True)
        with translation.override("zh-hans"):
            feed_upload_process(upload_id=upload.pk)


# --- the pages ---------------------------------------------------------------------------------------

# URL name -> the keyword arguments of its sample pages in the world.
SITE_SAMPLES: dict[str, Callable[[PageWorld], list[dict]]] = {
    "staff:offer": lambda pw: [{"pk": n.pk} for n in pw.extra["for_sale"]],
    "staff:receipt": lambda pw: [{"pk": p.pk} for p in pw.extra["periods"]],
    "subscriber:request_detail": lambda pw: [{"pk": pw.extra["unbind"].pk}],
    "subscriber:request_status": lambda pw: [{"pk": pw.extra["unbind"].pk}],
    "subscriber:report_detail": lambda pw: [{"reference": pw.extra["report"].reference}],
    "subscriber:evidence": lambda pw: [{"pk": pw.extra["evidence"].pk}],
    "subscriber:request_proof": lambda pw: [{"pk": pw.extra["unbind"].pk}],
    "subscriber:evidence_preview": lambda pw: [{"pk": pw.extra["evidence"].pk}],
    "short-link": lambda pw: [{"reference": pw.extra["unbind"].reference}],
    "staff:receipt_signature": lambda pw: [{"pk": p.pk} for p in pw.extra["periods"]],
    # A page that only answers a POST, and the one-time link of a password reset (an invalid link says so).
    "staff:receipt_sms": lambda pw: [{"pk": p.pk} for p in pw.extra["periods"]],
    "staff:password_reset_confirm": lambda pw: [{"uidb64": "MQ", "token": "not-a-token"}],
    # The platform account area: a key (revoked by a POST), a dead delivery, an invalid set-password link.
    "platform:set_password": lambda pw: [{"uidb64": "MQ", "token": "not-a-token"}],
    "platform:key_revoke": lambda pw: [{"pk": pw.extra["key"].pk}],
    "platform:delivery": lambda pw: [{"pk": pw.extra["delivery"].pk}],
    "platform:delivery_redeliver": lambda pw: [{"pk": pw.extra["delivery"].pk}],
}


def site_url_names() -> list[tuple[str, list[str]]]:
    """(name, its URL parameters) of every named page outside the admin and the API, from the URLconf."""
    found = []

    def walk(patterns, namespace, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(("admin/", "api/")):
                continue
            if isinstance(p, URLResolver):
                walk(p.url_patterns, p.namespace or namespace, route)
            elif isinstance(p, URLPattern) and p.name:
                found.append((f"{namespace}:{p.name}" if namespace else p.name, list(p.pattern.converters)))

    walk(get_resolver().url_patterns, None, "")
    return sorted(found)


def site_urls(pw: PageWorld) -> list[str]:
    urls = []
    for name, params in site_url_names():
        if not params:
            urls.append(reverse(name))
            continue
        assert name in SITE_SAMPLES, f"{name} takes {params}: give it sample arguments in SITE_SAMPLES"
        urls += [reverse(name, kwargs=kwargs) for kwargs in SITE_SAMPLES[name](pw)]
    return urls


OBJECT_VIEWS = ("change", "history", "delete", "password_change", "two_factor_reset", "reset_link", "signature",
                "report", "lift")


def admin_urls(w: matrix.World) -> list[str]:
    """Every admin URL with its sample arguments: the registry's models and the site's own pages."""
    urls = []
    models = {f"{m._meta.app_label}_{m._meta.model_name}": m for m in admin.site._registry}
    for name in matrix.admin_url_names():
        if name in ("app_list",):
            urls += [reverse("admin:app_list", args=[label]) for label in sorted({m._meta.app_label
                                                                                  for m in admin.site._registry})]
            continue
        if name in ("view_on_site", "logout", "jsi18n", "autocomplete"):
            continue  # a redirect, a POST, JavaScript and JSON: no page
        model_key, _, view = name.rpartition("_")
        if name.endswith(("_export_csv", "_sample", "_progress")) or name == "dashboard_monthly":
            # A CSV file (its column names are codes, its cells data), a sample file, JSON a page polls; the
            # monthly report is walked by its own test.
            continue
        for object_view in ("password_change", "two_factor_reset", "reset_link"):
            if name.endswith(f"_{object_view}"):
                model_key, view = name.removesuffix(f"_{object_view}"), object_view
        model = models.get(model_key)
        if model is not None and view in OBJECT_VIEWS:
            if view in ("report", "lift", "signature"):
                continue  # a file download, a POST-only action, and a PNG
            urls += [reverse(f"admin:{name}", args=[obj.pk]) for obj in matrix.samples(model, w)]
        else:
            urls.append(reverse(f"admin:{name}"))
    return urls


# --- reading them ------------------------------------------------------------------------------------


@dataclass
class Reading:
    allowed: set[str]
    findings: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (url, where, word) -> who

    def read(self, who: str, method: str, url: str, response) -> None:
        if "text/html" not in response.get("Content-Type", ""):
            return
        for f in english_on_page(response.content.decode("utf-8"), self.allowed):
            self.findings.setdefault((f"{method} {url}", f.where, f"{f.word} — {f.context}"), set()).add(who)

    def report(self) -> str:
        lines = [f"{url} [{where}] {text}   (as {', '.join(sorted(who))})"
                 for (url, where, text), who in sorted(self.findings.items())]
        more = [f"… and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else []
        return "\n".join([f"{len(lines)} English words on pages read in Chinese:", *lines[:SHOWN], *more])


_FORM = re.compile(r"<form\b[^>]*>", re.I)
_ACTION = re.compile(r'\baction="([^"]*)"', re.I)


def posts_to_itself(html: str, url: str) -> bool:
    """Whether the page holds a POST form that sends to the page itself (no action, or its own URL)."""
    for tag in _FORM.findall(html):
        action = _ACTION.search(tag)
        if 'method="post"' in tag.lower() and (action is None or action.group(1) in ("", url)):
            return True
    return False


def read_pages(client, reading: Reading, who: str, urls: list[str], *, post_forms: bool) -> None:
    for url in urls:
        response = client.get(url, **ZH)
        reading.read(who, "GET", url, response)
        # Admin change pages are not posted: a browser always sends their formsets' management forms.
        admin_change = url.startswith("/admin/") and not url.endswith("/add/")
        if (post_forms and not admin_change and response.status_code == 200
                and posts_to_itself(response.content.decode(), url)):
            reading.read(who, "POST", url, client.post(url, {}, **ZH))


# --- the tests ---------------------------------------------------------------------------------------


def test_the_reader_finds_english_and_leaves_codes_alone():
    allowed = {"CMCC"}
    html = ('<html><head><title>Number book</title><script>var x = "hidden";</script></head><body>'
            '<p>号码 <code>unknown_number</code> CMCC HR-3F2A9BCD https://example.cn</p>'
            '<input type="submit" value="Save"><img alt="chart"><span translate="no">webhook</span>'
            '<input type="hidden" value="secret"><p title="编号">待审核 pending</p></body></html>')
    words = sorted(f.word for f in english_on_page(html, allowed))
    assert words == ["Number", "Save", "book", "chart", "pending"]


def test_every_site_page_is_chinese(client, page_world):
    reading = Reading(allowlist())
    urls = site_urls(page_world)
    read_pages(client, reading, "anonymous", urls, post_forms=True)
    for subject in matrix.SUBJECTS:
        client.force_login(page_world.w.accounts[subject].user)
        read_pages(client, reading, subject, urls, post_forms=subject == "sales staff A")
        client.logout()
    sign_in(client, page_world.subscriber_msisdn)
    read_pages(client, reading, "subscriber", urls, post_forms=True)
    client.logout()
    sign_in_engineer(client, page_world.extra["engineer"])
    read_pages(client, reading, "platform engineer (platform area)", urls, post_forms=True)
    assert not reading.findings, reading.report()


@pytest.mark.parametrize("subject", [*matrix.SUBJECTS, "anonymous"])
def test_every_admin_page_is_chinese(client, page_world, subject):
    reading = Reading(allowlist())
    if subject != "anonymous":
        client.force_login(page_world.w.accounts[subject].user)
    read_pages(client, reading, subject, admin_urls(page_world.w), post_forms=True)
    assert not reading.findings, reading.report()


def test_every_url_of_the_pages_is_walked(page_world):
    """The lists come from the URLconf and the registry: every model's pages and every staff/subscriber page."""
    urls = admin_urls(page_world.w)
    for model in admin.site._registry:
        prefix = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert any(u.startswith(prefix) for u in urls), model
    names = {name for name, _ in site_url_names()}
    assert {"home", "staff:book", "staff:offer", "staff:receipt", "subscriber:start", "subscriber:overview"} <= names
    assert HarassmentReport.objects.exists() and UnbindRequest.objects.exists()
