"""A database outage is a 503 with Retry-After (portal/outage.py); any other error stays Django's 500."""

import json as json_module

import pytest
from django.db import OperationalError

from portal.outage import DatabaseOutageMiddleware, server_error


@pytest.mark.parametrize("path,json", [("/api/v1/deliveries", True), ("/renew/number", False)])
def test_an_outage_in_a_view_answers_503_at_once(rf, path, json):
    middleware = DatabaseOutageMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get(path), OperationalError("connection refused"))
    assert response.status_code == 503 and response["Retry-After"] == "30"
    if json:
        assert json_module.loads(response.content)["error"]["code"] == "service_unavailable"
    else:
        assert b"cannot reach its database" in response.content


def test_other_errors_are_left_to_django(rf):
    middleware = DatabaseOutageMiddleware(lambda request: None)
    assert middleware.process_exception(rf.get("/"), ValueError("bug")) is None


def test_the_500_handler_answers_an_outage_raised_in_a_middleware_with_503(rf):
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = server_error(rf.get("/renew/number"))
    assert response.status_code == 503
    try:
        raise ValueError("bug")
    except ValueError:
        assert server_error(rf.get("/renew/number")).status_code == 500
