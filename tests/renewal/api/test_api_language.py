"""API messages are for machines first: English by default, zh-hans when Accept-Language asks; codes never change."""

import pytest

from renewal.api.middleware import api_language

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("header", "language"), [
    ("", "en"), ("zh-CN,zh;q=0.9", "zh-hans"), ("zh-Hans", "zh-hans"), ("fr-FR", "en"), ("fr,zh;q=0.5", "zh-hans"),
    ("en-US,zh;q=0.5", "en"), ("*", "en"), ("garbage;;;", "en"),
])
def test_the_api_speaks_english_unless_asked(header, language):
    assert api_language(header) == language


def test_an_error_message_follows_accept_language_and_its_code_does_not(client):
    english = client.get("/api/v1/deliveries")
    chinese = client.get("/api/v1/deliveries", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert english.status_code == chinese.status_code == 401
    assert english.json()["error"]["code"] == chinese.json()["error"]["code"] == "not_authenticated"
    assert english.json()["error"]["message"] == "Send 'Authorization: Bearer <api key>'."
    assert chinese.json()["error"]["message"] == "请在请求头中发送 “Authorization: Bearer <api key>”。"
    assert english["Content-Language"] == "en" and chinese["Content-Language"] == "zh-hans"


def test_the_pages_language_cookie_does_not_change_the_api(client):
    client.cookies["django_language"] = "zh-hans"
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "No such resource.", "fields": {}}
