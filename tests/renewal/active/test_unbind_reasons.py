"""A platform's rejection, reported with a reason code, reaches the subscriber's page as a sentence in the page's
language with the platform's support contact; the platform's own text only beneath it, escaped."""

import html
import re

import pytest
from django.test import Client
from django.utils import translation

from renewal.active import outcomes
from renewal.active import services as unbind
from renewal.deliveries import unbind as coalescer
from renewal.models import Platform, UnbindReason
from tests.renewal.helpers_renewal import make_platform
from tests.renewal.helpers_subscriber import sign_in


@pytest.fixture
def rejected_everywhere(holder, django_capture_on_commit_callbacks):
    """One request; six platforms, each rejecting it with another reason (and raw text of its own)."""
    number, period = holder
    platforms = {}
    for i, reason in enumerate(UnbindReason.values):
        platforms[reason] = make_platform(f"Platform {reason}")
        Platform.objects.filter(pk=platforms[reason].pk).update(
            support_phone=f"+86 400 800 10{i:02d}", support_url=f"https://help.example.com/{reason}" if i % 2 else "")
    request = unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    for reason, platform in platforms.items():
        task = request.tasks.get(platform=platform)
        with django_capture_on_commit_callbacks(execute=True):  # the request finishes after commit
            unbind.unbind_task_report(platform=platform, task_id=task.pk, status="rejected", reason=reason,
                                      detail=f"RAW-{reason} <b>not markup</b>")
    return number, request


def _rows(page: str) -> dict[str, str]:
    """{platform name: the text of its row}, tags stripped."""
    rows = re.findall(r'<li class="task[^"]*" data-task="[^"]+">(.*?)</li>', page, re.S)
    out = {}
    for row in rows:
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip())
        out[" ".join(text.split(" ", 2)[:2])] = text
    return out


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_reported_reason_reaches_the_page_in_its_language_with_whom_to_call(rejected_everywhere, language):
    number, request = rejected_everywhere
    client = Client(headers={"accept-language": "zh-CN,zh;q=0.9" if language == "zh-hans" else "en"})
    sign_in(client, number.msisdn)
    page = client.get(f"/renew/requests/{request.pk}").content.decode()
    status = client.get(f"/renew/requests/{request.pk}/status").json()
    assert status["final"] is True
    rows = _rows(page)
    assert len(rows) == len(UnbindReason.values)
    with translation.override(language):
        for i, reason in enumerate(UnbindReason.values):
            headline, next_step = (str(text) for text in outcomes.REASONS[reason])
            row = rows[f"Platform {reason}"]
            # the reason in the page's language first, then the next step; the platform's own words after, escaped
            assert row.index(headline) < row.index(next_step) < row.index(f"RAW-{reason}")
            assert f"RAW-{reason} &lt;b&gt;not markup&lt;/b&gt;" in page and "<b>not markup" not in page
            assert f'href="tel:+86 400 800 10{i:02d}"' in page
            assert (f'href="https://help.example.com/{reason}"' in page) == bool(i % 2)
            assert headline in html.unescape(status["html"])
    if language == "zh-hans":
        assert "企业" in page and "法院" in page and "The platform" not in page
    else:
        assert "frozen by a court or the police" in page


def test_a_platform_without_a_support_contact_points_to_its_app(holder):
    number, period = holder
    platform = make_platform("Quiet")
    request = unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    unbind.unbind_task_report(platform=platform, task_id=request.tasks.get().pk, status="rejected", reason="other")
    client = Client(headers={"accept-language": "en"})
    sign_in(client, number.msisdn)
    page = client.get(f"/renew/requests/{request.pk}").content.decode()
    assert "use the help or customer-service page in the platform's app" in html.unescape(page)
    assert "tel:" not in page and "own words" not in page
