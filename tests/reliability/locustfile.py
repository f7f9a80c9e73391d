"""Subscribers under load (locust): each starts an unbind request and polls its progress, as the page does.

Run by tests/reliability/test_load.py and bench/run_all.py against gunicorn on 127.0.0.1 only. The verified
sessions are made beforehand (LOAD_SESSIONS, a JSON list of session keys), so the sign-in limits are not what is
measured. Requests go as nginx forwards them (X-Forwarded-Proto: https), with the CSRF cookie and header a
browser sends. Every answer other than the expected one is a failure; so is a timeout (LOAD_TIMEOUT seconds).
"""

import itertools
import json
import os
import secrets

from locust import HttpUser, between, task

SESSIONS = itertools.cycle(json.loads(open(os.environ["LOAD_SESSIONS"]).read()))  # noqa: SIM115 (read once)
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT", "10"))
POLL_SECONDS = float(os.environ.get("LOAD_POLL_SECONDS", "1"))


class Subscriber(HttpUser):
    wait_time = between(POLL_SECONDS * 0.5, POLL_SECONDS * 1.5)
    network_timeout = connection_timeout = TIMEOUT

    def on_start(self) -> None:
        csrf = secrets.token_hex(16)  # a 32-character secret: Django takes it as cookie and header alike
        host = self.host.split("://", 1)[1]
        self.headers = {"Cookie": f"sessionid={next(SESSIONS)}; csrftoken={csrf}", "X-CSRFToken": csrf,
                        "X-Forwarded-Proto": "https", "Origin": f"https://{host}", "Referer": f"https://{host}/",
                        "Accept-Language": "zh-hans"}
        self.status_url = None
        with self.client.post("/renew/unbind", data={"all": "1"}, headers=self.headers, allow_redirects=False,
                              name="POST /renew/unbind", catch_response=True) as response:
            location = response.headers.get("Location", "")
            if response.status_code == 302 and "/renew/requests/" in location:
                self.status_url = location.rstrip("/") + "/status"
                response.success()
            else:
                response.failure(f"{response.status_code} {location or response.text[:200]}")

    @task(5)
    def poll(self) -> None:
        if self.status_url is None:
            return
        with self.client.get(self.status_url, headers=self.headers, name="GET /renew/requests/[id]/status",
                             catch_response=True) as response:
            if response.status_code != 200 or "final" not in response.text:
                response.failure(f"{response.status_code} {response.text[:200]}")

    @task(1)
    def overview(self) -> None:
        with self.client.get("/renew/number", headers=self.headers, allow_redirects=False,
                             name="GET /renew/number", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.headers.get('Location', '')}")
