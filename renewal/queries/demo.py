"""Demo data: a query-only site with a key, a fortnight of its audited calls, and a question answered `yes`.

The site's key is issued afresh on every load (the old demo key revoked): a key is shown once and never stored,
and `make run` prints a curl command that uses it.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from numbers.models import HolderPeriod
from renewal.models import ApiKey, Platform, PlatformKind, PlatformStatus, ReassignmentQueryCall
from renewal.platforms import services as platforms
from renewal.queries import services

SITE = "旧号查询站 Ask-before-trust"
KEY_NAME = "demo query key"
URL_MARK = "{url}"  # replaced by the portal's address where the line is printed


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    site = Platform.objects.filter(name=SITE).first()
    if site is None:
        site = platforms.platform_create(name=SITE, category="other", kind=PlatformKind.QUERY_ONLY,
                                         status=PlatformStatus.LIVE, actor="demo")
    for old in ApiKey.objects.filter(platform=site, name=KEY_NAME, revoked_at__isnull=True):
        platforms.api_key_revoke(key=old, actor="demo")
    key, raw = platforms.api_key_create(platform=site, name=KEY_NAME, actor="demo")
    # The latest recorded disconnection: asked about the day before it, the answer is yes.
    ended = HolderPeriod.objects.filter(ended_at__isnull=False).select_related("number").order_by("-ended_at").first()
    if ended is None:
        stdout.write("renewal: query-only site loaded (no disconnection to ask about)")
        return []
    since = (timezone.localtime(ended.ended_at) - timedelta(days=1)).date().isoformat()
    if not ReassignmentQueryCall.objects.filter(platform=site).exists():
        _calls(key, ended.number.msisdn, since)
    stdout.write(f"renewal: query-only site {site.name} with a fresh key")
    body = f'{{"items": [{{"msisdn": "{ended.number.msisdn}", "since": "{since}"}}]}}'
    curl = (f"curl -s -H 'Authorization: Bearer {raw}' -H 'Content-Type: application/json' "
            f"-d '{body}' {URL_MARK}/api/v1/reassignment-queries")
    return [("Reassignment query (answers yes)", "", curl)]


def _calls(key: ApiKey, msisdn: str, since: str) -> None:
    """A fortnight of the site's calls (through the service, so audited as real ones are) for the dashboard."""
    rng = random.Random(14)
    now = timezone.now()
    for days_ago in range(14, 0, -1):
        for _ in range(rng.randrange(1, 4)):
            items = [{"msisdn": msisdn, "since": since}] * rng.randrange(1, 40)
            items += [{"msisdn": "+8613900000000", "since": since}] * rng.randrange(0, 5)
            services.reassignment_queries_answer(key=key, items=items, now=now - timedelta(days=days_ago))
