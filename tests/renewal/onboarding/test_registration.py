"""The public registration page: clear errors, nothing saved on bad input, a limit per address."""

import pytest
from django.urls import reverse

from numbers.models import AuditEntry
from renewal.models import PlatformKind, PlatformRegistration
from tests.renewal.helpers_renewal import make_platform

URL = "/platform/register/"


def valid(**changes) -> dict:
    data = {"organisation": "Gamma Ltd", "platform_name": "Gamma Rides", "contact_name": "Zhang Wei",
            "contact_email": "ops@gamma.example", "contact_phone": "+86 10 5555 0100", "categories": ["travel"],
            "kind": "application", "webhook_url": "https://hooks.gamma.example/renewal",
            "support_phone": "+86 400 555 0100", "support_url": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_landing_page_links_to_registration(client, db):
    assert reverse("platform:register").encode() in client.get("/").content


def test_every_platform_kind_is_offered(client, db):
    page = client.get(URL).content.decode()
    for value, _label in PlatformKind.choices:
        assert f'value="{value}"' in page


def test_a_valid_registration_waits_for_approval(client, db):
    response = client.post(URL, valid(categories=["travel", "payment"]))
    assert response.status_code == 302 and response["Location"] == reverse("platform:register_done")
    registration = PlatformRegistration.objects.get()
    assert registration.state == "pending" and registration.categories == ["travel", "payment"]
    assert registration.address == "127.0.0.1"
    assert AuditEntry.objects.filter(object_type="renewal.platformregistration", action="create").exists()


def test_pull_only_needs_no_webhook(client, db):
    assert client.post(URL, valid(webhook_url="", pull_only="on")).status_code == 302
    assert PlatformRegistration.objects.get().webhook_url == ""


BAD = [
    ({"organisation": ""}, "organisation"),
    ({"contact_email": "not-an-address"}, "contact_email"),
    ({"contact_phone": "call me"}, "contact_phone"),
    ({"categories": None}, "categories"),
    ({"kind": "bank"}, "kind"),
    ({"webhook_url": ""}, "webhook_url"),  # neither a webhook nor pull-only
    ({"webhook_url": "http://hooks.gamma.example/x"}, "webhook_url"),  # not HTTPS
    ({"webhook_url": "https://0x7f000001/x"}, "webhook_url"),
    ({"webhook_url": "https://2130706433/x"}, "webhook_url"),
    ({"webhook_url": "https://127.1/x"}, "webhook_url"),
    ({"webhook_url": "https://[::ffff:127.0.0.1]/x"}, "webhook_url"),
    ({"webhook_url": "https://10.0.0.8/x"}, "webhook_url"),
    ({"support_phone": "", "support_url": ""}, "support_phone"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_bad_input_is_named_and_nothing_is_saved(client, db, settings, changes, field):
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    settings.RENEWAL_WEBHOOK_REQUIRE_HTTPS = True
    response = client.post(URL, valid(**changes))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert b'class="error-summary"' in response.content
    assert not PlatformRegistration.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_disguised_loopback_webhook_gets_a_clear_message(client, db, settings):
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    response = client.post(URL, valid(webhook_url="https://0x7f000001/x"))
    assert "127.0.0.1" in response.context["form"].errors["webhook_url"][0]
    assert "loopback" in response.context["form"].errors["webhook_url"][0]


def test_a_taken_name_is_refused(client, db):
    make_platform("Gamma Rides")
    response = client.post(URL, valid())
    assert "platform_name" in response.context["form"].errors
    assert not PlatformRegistration.objects.exists()


def test_registrations_are_limited_per_address(client, db, settings):
    settings.PLATFORM_REGISTRATIONS_PER_ADDRESS_HOUR = 2
    for i in range(2):
        assert client.post(URL, valid(platform_name=f"App {i}")).status_code == 302
    refused = client.post(URL, valid(platform_name="App 3"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert PlatformRegistration.objects.count() == 2
    # another address is not held back
    assert client.post(URL, valid(platform_name="App 4"), REMOTE_ADDR="203.0.113.9").status_code == 302
