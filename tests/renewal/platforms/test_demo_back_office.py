"""`make run` prints an API key of the demo operator's back office and a curl command that works with it."""

import io
import shlex

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from numbers import demo
from renewal.models import ApiKey
from renewal.platforms import demo as back_office

pytestmark = pytest.mark.django_db


def _curl(command: str) -> tuple[dict, str, str]:
    """(headers, body, url) of the printed curl command, as curl would read it."""
    args = shlex.split(command)
    headers = dict(args[i + 1].split(": ", 1) for i, a in enumerate(args) if a == "-H")
    return headers, args[args.index("-d") + 1], args[-1]


def test_the_printed_curl_command_asks_a_dry_run_and_gets_an_answer(client, settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path
    call_command("createcachetable", verbosity=0)
    assert "renewal.platforms.demo" in django_settings.DEMO_STEPS
    demo.load(io.StringIO())

    lines = back_office.load(io.StringIO())

    (_, path, key), (_, _, command) = lines
    headers, body, url = _curl(command)
    assert headers["Authorization"] == f"Bearer {key}" and url.endswith(path)
    response = client.post(path, body, content_type=headers["Content-Type"],
                           HTTP_AUTHORIZATION=headers["Authorization"])
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["dry_run"] is True and answer["results"] == [{"index": 0, "outcome": "applied"}]

    # The next run revokes that key and prints a new one.
    (_, _, second), _ = back_office.load(io.StringIO())
    assert second != key
    assert ApiKey.objects.filter(name=back_office.KEY_NAME, revoked_at__isnull=True).count() == 1
    assert client.post(path, body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
